/**
 * FileOps on the real filesystem (Node built-ins only). On the module this is the flash
 * partition; in the simulated world, a directory on the host.
 */
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { FileOps, OpenMode, StorageFile } from './file-ops.js';

const FLAGS: Record<OpenMode, number> = {
  read: constants.O_RDONLY,
  update: constants.O_RDWR | constants.O_CREAT,
  replace: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
};

class NodeFile implements StorageFile {
  constructor(private readonly handle: FileHandle) {}

  async read(position: number, length: number): Promise<Uint8Array> {
    const buffer = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(
        buffer,
        filled,
        length - filled,
        position + filled,
      );
      if (bytesRead === 0) break; // end of file
      filled += bytesRead;
    }
    return filled === length ? buffer : buffer.subarray(0, filled);
  }

  async write(position: number, bytes: Uint8Array): Promise<void> {
    let written = 0;
    // pwrite may write less than asked (signals, quotas); loop until all bytes are in.
    while (written < bytes.length) {
      const result = await this.handle.write(
        bytes,
        written,
        bytes.length - written,
        position + written,
      );
      written += result.bytesWritten;
    }
  }

  // fdatasync, not fsync: it still flushes the size and block map (what a reader needs after a
  // cut) but skips timestamps, which saves a journal write per chunk.
  sync = (): Promise<void> => this.handle.datasync();
  truncate = (length: number): Promise<void> => this.handle.truncate(length);
  size = async (): Promise<number> => (await this.handle.stat()).size;
  close = (): Promise<void> => this.handle.close();
}

async function syncDir(dir: string): Promise<void> {
  // A directory's entries become durable only through an fsync of the directory itself.
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export const nodeFileOps: FileOps = {
  open: async (path, mode) => new NodeFile(await open(path, FLAGS[mode], 0o600)),
  readdir: async (dir) => {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
  },
  mkdirs: async (dir) => {
    const target = resolve(dir);
    const first = await mkdir(target, { recursive: true });
    if (first === undefined) return;
    // Each new directory's own entry lives in its parent: sync from the deepest up to the parent
    // of the first one created.
    for (let created = target; dirname(created) !== created; created = dirname(created)) {
      await syncDir(dirname(created));
      if (created === first) break;
    }
  },
  rename,
  unlink,
  syncDir,
};
