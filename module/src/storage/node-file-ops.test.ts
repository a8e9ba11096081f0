/**
 * The real-filesystem FileOps, and the power-cut sweep on a real disk. A live kernel keeps
 * unsynced writes in its page cache, so this sweep cuts only between steps (the simulated flash
 * covers lost and torn writes); it checks the protocol against real rename and truncate semantics.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeFileOps } from './node-file-ops.js';
import { RecordStore } from './record-store.js';
import { SlotStore } from './slot-store.js';
import { CuttingFileOps, PowerCut, collect, identityOf, testImage } from './testing/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-file-ops-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('nodeFileOps', () => {
  it('creates nested directories and lists only files', async () => {
    await nodeFileOps.mkdirs(join(dir, 'x', 'y'));
    await nodeFileOps.mkdirs(join(dir, 'x', 'y')); // again: nothing to do
    await writeFile(join(dir, 'x', 'file'), 'f');
    expect(await nodeFileOps.readdir(join(dir, 'x'))).toEqual(['file']);
  });

  it('opens for read, update and replace', async () => {
    const path = join(dir, 'f');
    await expect(nodeFileOps.open(path, 'read')).rejects.toMatchObject({ code: 'ENOENT' });
    const update = await nodeFileOps.open(path, 'update');
    await update.write(2, Uint8Array.of(9, 9));
    await update.sync();
    expect(await update.read(0, 10)).toEqual(Uint8Array.of(0, 0, 9, 9));
    await update.truncate(3);
    expect(await update.size()).toBe(3);
    await update.close();
    const replace = await nodeFileOps.open(path, 'replace');
    expect(await replace.size()).toBe(0);
    await replace.close();
  });
});

/** Runs `operation` with a cut after k steps for every k, from a fresh `prepare` each time. */
async function sweep(
  prepare: (root: string) => Promise<void>,
  operation: (ops: CuttingFileOps, root: string) => Promise<() => Promise<unknown>>,
  check: (root: string, acknowledged: boolean) => Promise<void>,
): Promise<number> {
  for (let afterSteps = 0; ; afterSteps++) {
    const root = join(dir, `run-${afterSteps}`);
    await prepare(root);
    const ops = new CuttingFileOps(nodeFileOps);
    const run = await operation(ops, root);
    ops.arm(afterSteps);
    let acknowledged = false;
    try {
      await run();
      acknowledged = true;
    } catch (error) {
      if (!(error instanceof PowerCut)) throw error;
    }
    await check(root, acknowledged);
    if (acknowledged) return afterSteps;
  }
}

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('power cuts between steps on the real filesystem', () => {
  it('a record update is old or new, and leaves no temp file', async () => {
    const steps = await sweep(
      async (root) => (await RecordStore.open(root)).put('key-ring', utf8('old')),
      async (fileOps, root) => {
        const store = await RecordStore.open(root, { fileOps });
        return () => store.put('key-ring', utf8('new'));
      },
      async (root, acknowledged) => {
        const value = await (await RecordStore.open(root)).get('key-ring');
        expect(acknowledged ? ['new'] : ['old', 'new']).toContain(new TextDecoder().decode(value));
        expect(await readdir(root)).toEqual(['key-ring.rec']);
      },
    );
    expect(steps).toBe(5);
  });

  it('an image chunk append is committed or not, and never leaves extra bytes', async () => {
    const image = testImage(8192, 5);
    const steps = await sweep(
      async (root) => {
        const slots = await SlotStore.open(root);
        const writer = await slots.beginWrite('A', identityOf(image));
        await writer.append(0, image.subarray(0, 4096));
        await slots.close();
      },
      async (fileOps, root) => {
        const slots = await SlotStore.open(root, { fileOps });
        const writer = await slots.beginWrite('A', identityOf(image));
        return () => writer.append(4096, image.subarray(4096));
      },
      async (root, acknowledged) => {
        const slots = await SlotStore.open(root);
        const committed = await slots.committedOffset('A');
        expect(acknowledged ? [8192] : [4096, 8192]).toContain(committed);
        expect(await collect(slots.readSlot('A'))).toEqual(image.subarray(0, committed));
        await slots.close();
      },
    );
    expect(steps).toBe(4);
  });
});
