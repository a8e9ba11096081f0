/**
 * The only way storage touches files. Everything the stores do to the "flash" directory goes
 * through this small interface so tests can swap in a simulated flash that forgets unsynced
 * writes, and cut the power between any two mutating steps (see testing/).
 *
 * Why a hand-written layer and no library: the guarantees we need are a handful of system calls in
 * a precise order (write, fdatasync, rename, fsync of the directory, truncate); atomic-write
 * libraries cover only "replace one file", none offers an append log with a committed offset, and
 * none lets a test stop the sequence after step k and drop what was not yet synced. Owning the
 * ~100 lines is cheaper than wrapping a dependency to get those hooks.
 */

/** How a file is opened. */
export type OpenMode =
  /** Read only; fails with ENOENT when the file is missing. */
  | 'read'
  /** Read and write; created empty when missing, never truncated. */
  | 'update'
  /** Write; created when missing and truncated to zero length. */
  | 'replace';

/** An open file. Writes are volatile until sync() resolves. */
export interface StorageFile {
  /** Up to `length` bytes from `position`; fewer only at the end of the file. */
  read(position: number, length: number): Promise<Uint8Array>;
  write(position: number, bytes: Uint8Array): Promise<void>;
  /** Makes this file's data and size durable (fdatasync). */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileOps {
  /** Opening with 'update' or 'replace' may create or truncate: a mutating step. */
  open(path: string, mode: OpenMode): Promise<StorageFile>;
  /** Names of the files in a directory (not of subdirectories). */
  readdir(dir: string): Promise<string[]>;
  /** Creates the directory and its parents, durably. */
  mkdirs(dir: string): Promise<void>;
  /** Atomic replace within one directory; durable only after syncDir(). */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; durable only after syncDir(). */
  unlink(path: string): Promise<void>;
  /** Makes the directory's entries (creates, renames, unlinks) durable. */
  syncDir(dir: string): Promise<void>;
}

/** True for a "no such file" error from any FileOps implementation. */
export const isNotFound = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';

/** Reads a whole (small) file; undefined when it does not exist. */
export async function readWholeFile(ops: FileOps, path: string): Promise<Uint8Array | undefined> {
  let file: StorageFile;
  try {
    file = await ops.open(path, 'read');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    return await file.read(0, await file.size());
  } finally {
    await file.close();
  }
}
