/**
 * Small named values that survive power cuts: provisioning state, identity key seed, certificate,
 * settings, key ring, revocation list, counters, boot state... Each record is one file replaced
 * atomically, so a reader after a cut sees the old value or the new one, never a mix.
 *
 * put:    write <name>.<tag>.tmp -> fdatasync it -> rename over <name>.rec -> fsync the directory
 * delete: unlink <name>.rec -> fsync the directory
 * open:   unlink leftover *.tmp files (a put cut before its rename) -> fsync the directory
 */
import { join } from 'node:path';
import type { FileOps } from './file-ops.js';
import { isNotFound, readWholeFile } from './file-ops.js';
import { StorageError } from './errors.js';
import { nodeFileOps } from './node-file-ops.js';
import { checkRecordName, decodeRecord, encodeRecord } from './record-format.js';
import { SerialQueue } from './serial-queue.js';

const RECORD_SUFFIX = '.rec';
const TEMP_SUFFIX = '.tmp';

export interface StorageOptions {
  /** Defaults to the real filesystem; tests pass a simulated flash. */
  readonly fileOps?: FileOps;
}

/** A type guard for a JSON record's content, e.g. a TypeBox check or a hand-written one. */
export type JsonValidator<T> = (value: unknown) => value is T;

let tempCounter = 0;

export class RecordStore {
  private readonly queue = new SerialQueue();

  private constructor(
    readonly dir: string,
    private readonly ops: FileOps,
  ) {}

  /** Opens (creating if needed) the store in `dir` and clears what an interrupted put left. */
  static async open(dir: string, options: StorageOptions = {}): Promise<RecordStore> {
    const ops = options.fileOps ?? nodeFileOps;
    await ops.mkdirs(dir);
    const leftovers = (await ops.readdir(dir)).filter((file) => file.endsWith(TEMP_SUFFIX));
    for (const file of leftovers) await ops.unlink(join(dir, file));
    if (leftovers.length > 0) await ops.syncDir(dir);
    return new RecordStore(dir, ops);
  }

  private pathOf(name: string): string {
    checkRecordName(name);
    return join(this.dir, name + RECORD_SUFFIX);
  }

  /**
   * The record's value, or undefined when there is none. Throws StorageError 'corrupt-record'
   * when the file is torn or damaged: such bytes are never returned as a value.
   */
  async get(name: string): Promise<Uint8Array | undefined> {
    const path = this.pathOf(name);
    return this.queue.run(async () => {
      const bytes = await readWholeFile(this.ops, path);
      if (bytes === undefined) return undefined;
      const decoded = decodeRecord(name, bytes);
      if (!decoded.ok) {
        throw new StorageError('corrupt-record', `record ${name} is damaged: ${decoded.problem}`);
      }
      return decoded.value;
    });
  }

  /** Replaces the record; resolves only once the new value survives a power cut. */
  async put(name: string, value: Uint8Array): Promise<void> {
    const path = this.pathOf(name);
    const encoded = encodeRecord(name, value);
    // A per-put temp name: a put from another process never writes into this one's temp file.
    const temp = join(this.dir, `${name}.${process.pid}-${++tempCounter}${TEMP_SUFFIX}`);
    return this.queue.run(async () => {
      const file = await this.ops.open(temp, 'replace');
      try {
        await file.write(0, encoded);
        await file.sync(); // the data must be on disk before the name points at it
      } finally {
        await file.close();
      }
      await this.ops.rename(temp, path);
      await this.ops.syncDir(this.dir);
    });
  }

  /** Removes the record durably; false when there was none. */
  async delete(name: string): Promise<boolean> {
    const path = this.pathOf(name);
    return this.queue.run(async () => {
      try {
        await this.ops.unlink(path);
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
      await this.ops.syncDir(this.dir);
      return true;
    });
  }

  /** Names of the stored records, sorted. */
  list(): Promise<string[]> {
    return this.queue.run(async () =>
      (await this.ops.readdir(this.dir))
        .filter((file) => file.endsWith(RECORD_SUFFIX))
        .map((file) => file.slice(0, -RECORD_SUFFIX.length))
        .sort(),
    );
  }

  /**
   * A JSON record checked by `isValid`. Throws 'invalid-record' when the (intact) record does not
   * parse or validate: a caller never gets a value of the wrong shape.
   */
  async getJson<T>(name: string, isValid: JsonValidator<T>): Promise<T | undefined> {
    const bytes = await this.get(name);
    if (bytes === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw new StorageError('invalid-record', `record ${name} is not JSON`);
    }
    if (!isValid(value)) {
      throw new StorageError('invalid-record', `record ${name} does not have the expected shape`);
    }
    return value;
  }

  /** Stores a JSON record; refuses (writes nothing) when `isValid` rejects the value. */
  async putJson<T>(name: string, value: T, isValid: JsonValidator<T>): Promise<void> {
    if (!isValid(value)) {
      throw new StorageError('invalid-record', `refusing to store record ${name}: bad shape`);
    }
    await this.put(name, new TextEncoder().encode(JSON.stringify(value)));
  }
}
