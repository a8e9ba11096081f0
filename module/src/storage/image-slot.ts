/**
 * One image slot on disk: its directory holds
 *   meta.rec   the slot metadata record (state, image hash and length, version...)
 *   image      the image bytes, appended chunk by chunk
 *   progress   the committed offset (two alternating sectors, see progress-record.ts)
 * Nothing here opens a file of the other slot, so writing one slot can never damage the other.
 *
 * Why it survives a cut at any instant:
 * - append: the chunk is written and synced before the committed offset moves past it, so every
 *   byte below the committed offset is durable; bytes above it are junk to truncate at open.
 * - a new write or an erase first durably replaces the metadata (new generation), then truncates
 *   the image: until the metadata switches, the old image is untouched; after, the old committed
 *   offset belongs to another generation and counts as zero.
 */
import { join } from 'node:path';
import { bytesEqual, createSha256, fromHex, toHex } from '@mini-sharing/shared-protocol/crypto';
import type { FileOps, StorageFile } from './file-ops.js';
import { StorageError } from './errors.js';
import type { Progress } from './progress-record.js';
import { readProgress, writeProgress } from './progress-record.js';
import { RecordStore } from './record-store.js';
import { SerialQueue } from './serial-queue.js';
import type { SlotId, SlotMetaRecord, SlotState, SlotStateUpdate } from './slot-meta.js';
import { EMPTY_SLOT_META, FULL_IMAGE_STATES, isSlotMetaRecord } from './slot-meta.js';

const META = 'meta';
const HASH_CHUNK = 64 * 1024;

/** What the boot loader and the flash service see of a slot. */
export interface SlotInfo {
  readonly slot: SlotId;
  readonly state: SlotState;
  readonly imageSha256: Uint8Array | undefined;
  /** Length of the image being written or held; 0 when empty. */
  readonly totalLength: number;
  /** Bytes below this offset are durable; equals totalLength once complete. */
  readonly committedOffset: number;
  readonly version: SlotMetaRecord['version'];
  readonly securityCounter: number | undefined;
  /** Why the slot is invalid. */
  readonly reason: string | undefined;
}

export interface ImageIdentity {
  /** SHA-256 of the whole image as it will sit in the slot. */
  readonly imageSha256: Uint8Array;
  readonly totalLength: number;
}

export class ImageSlot {
  /** Serialises everything on this slot: metadata and offset updates must not interleave. */
  readonly queue = new SerialQueue();
  private meta: SlotMetaRecord;
  /** Set when the stored metadata is unreadable: reported as 'invalid', never trusted. */
  private damage: string | undefined;
  private progress: Progress;

  private constructor(
    readonly id: SlotId,
    private readonly metaStore: RecordStore,
    private readonly image: StorageFile,
    private readonly progressFile: StorageFile,
    loaded: { meta: SlotMetaRecord; damage: string | undefined; progress: Progress },
  ) {
    this.meta = loaded.meta;
    this.damage = loaded.damage;
    this.progress = loaded.progress;
  }

  /** Opens the slot in `dir` and drops bytes beyond the committed offset (an interrupted append). */
  static async open(id: SlotId, dir: string, ops: FileOps): Promise<ImageSlot> {
    const metaStore = await RecordStore.open(dir, { fileOps: ops });
    const existing = await ops.readdir(dir);
    const image = await ops.open(join(dir, 'image'), 'update');
    const progressFile = await ops.open(join(dir, 'progress'), 'update');
    if (!existing.includes('image') || !existing.includes('progress')) await ops.syncDir(dir);

    let meta = EMPTY_SLOT_META;
    let damage: string | undefined;
    try {
      meta = (await metaStore.getJson(META, isSlotMetaRecord)) ?? EMPTY_SLOT_META;
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      damage = error.message;
    }
    const slot = new ImageSlot(id, metaStore, image, progressFile, {
      meta,
      damage,
      progress: await readProgress(progressFile),
    });
    // With damaged metadata or a lost offset nobody knows which bytes matter: leave them for a
    // new write or an erase to clear, rather than destroy an image that may still verify.
    if (slot.problem === undefined) await slot.truncateToCommitted();
    return slot;
  }

  get generation(): number {
    return this.meta.generation;
  }

  get committedOffset(): number {
    if (this.damage !== undefined || this.meta.state === 'empty') return 0;
    return this.progress.generation === this.meta.generation ? this.progress.committedOffset : 0;
  }

  private get problem(): string | undefined {
    if (this.damage !== undefined) return this.damage;
    const full = FULL_IMAGE_STATES.includes(this.meta.state);
    if (full && this.committedOffset !== this.meta.totalLength) {
      return 'the committed-offset record does not cover the whole image';
    }
    return undefined;
  }

  info(): SlotInfo {
    const problem = this.problem;
    const meta = this.meta;
    return {
      slot: this.id,
      state: problem === undefined ? meta.state : 'invalid',
      imageSha256: meta.imageSha256 === undefined ? undefined : fromHex(meta.imageSha256),
      totalLength: meta.totalLength ?? 0,
      committedOffset: this.committedOffset,
      version: meta.version,
      securityCounter: meta.securityCounter,
      reason: problem ?? meta.reason,
    };
  }

  private async truncateToCommitted(): Promise<void> {
    if ((await this.image.size()) <= this.committedOffset) return;
    await this.image.truncate(this.committedOffset);
    await this.image.sync();
  }

  private async putMeta(meta: SlotMetaRecord): Promise<void> {
    await this.metaStore.putJson(META, meta, isSlotMetaRecord);
    this.meta = meta;
    this.damage = undefined;
  }

  /** Same image as the one in the slot's metadata. */
  holds(image: ImageIdentity): boolean {
    return (
      this.damage === undefined &&
      this.meta.imageSha256 === toHex(image.imageSha256) &&
      this.meta.totalLength === image.totalLength
    );
  }

  /** Durably switches to a new generation in `state`, then clears the image bytes. */
  async restart(state: 'writing' | 'empty', image?: ImageIdentity): Promise<void> {
    const generation = Math.max(this.meta.generation, this.progress.generation) + 1;
    await this.putMeta(
      image === undefined
        ? { state, generation }
        : {
            state,
            generation,
            imageSha256: toHex(image.imageSha256),
            totalLength: image.totalLength,
          },
    );
    await this.image.truncate(0);
    await this.image.sync();
  }

  /** Resumes the write in progress: junk from a failed append goes. */
  async resume(): Promise<void> {
    await this.truncateToCommitted();
  }

  /** Appends (or confirms as a duplicate) `bytes` at `offset`; returns the committed offset. */
  async append(offset: number, bytes: Uint8Array): Promise<number> {
    const committed = this.committedOffset;
    const total = this.meta.totalLength ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new StorageError('offset-gap', `offset ${offset} is not a byte offset`);
    }
    if (offset > committed) {
      throw new StorageError(
        'offset-gap',
        `slot ${this.id}: chunk at offset ${offset} but only ${committed} bytes are committed; ` +
          `send from offset ${committed}`,
      );
    }
    const end = offset + bytes.length;
    if (end > total) {
      throw new StorageError(
        'beyond-end',
        `slot ${this.id}: chunk ends at ${end}, past the image's ${total} bytes`,
      );
    }
    const overlap = Math.min(end, committed) - offset;
    if (overlap > 0) {
      // A retransmit: the committed bytes must be the same, and are not written again.
      const stored = await this.image.read(offset, overlap);
      if (!bytesEqual(stored, bytes.subarray(0, overlap))) {
        throw new StorageError(
          'data-mismatch',
          `slot ${this.id}: chunk at offset ${offset} differs from the bytes already committed`,
        );
      }
    }
    if (end <= committed) return committed;
    if (this.meta.state !== 'writing') {
      throw new StorageError('slot-state', `slot ${this.id} is ${this.meta.state}, not writing`);
    }
    await this.image.write(committed, bytes.subarray(overlap));
    await this.image.sync(); // durable before the committed offset covers it
    const next = {
      seq: this.progress.seq + 1,
      generation: this.meta.generation,
      committedOffset: end,
    };
    await writeProgress(this.progressFile, next);
    this.progress = next;
    return end;
  }

  /** Checks the stored bytes against the image hash and marks the slot complete. */
  async complete(): Promise<void> {
    if (FULL_IMAGE_STATES.includes(this.meta.state)) return; // idempotent
    const total = this.meta.totalLength ?? 0;
    if (this.meta.state !== 'writing' || this.committedOffset < total) {
      throw new StorageError(
        'image-incomplete',
        `slot ${this.id}: ${this.committedOffset} of ${total} bytes are committed`,
      );
    }
    const hash = createSha256();
    for (let position = 0; position < total; position += HASH_CHUNK) {
      hash.update(await this.readChecked(position, Math.min(HASH_CHUNK, total - position)));
    }
    if (toHex(hash.digest()) !== this.meta.imageSha256) {
      const reason = 'the bytes written do not match the image SHA-256 announced for the write';
      await this.putMeta({ ...this.meta, state: 'invalid', reason });
      throw new StorageError('image-hash-mismatch', `slot ${this.id}: ${reason}`);
    }
    await this.putMeta({ ...this.meta, state: 'complete' });
  }

  async setState(update: SlotStateUpdate): Promise<void> {
    const current = this.info().state;
    if (update.state === 'invalid') {
      await this.putMeta({ ...this.meta, state: 'invalid', reason: update.reason });
      return;
    }
    const from: readonly SlotState[] =
      update.state === 'verified' ? FULL_IMAGE_STATES : ['verified', 'trial', 'confirmed'];
    if (!from.includes(current)) {
      throw new StorageError(
        'slot-state',
        `slot ${this.id} is ${current}; it can become ${update.state} only from ${from.join(', ')}`,
      );
    }
    const { reason: _reason, ...kept } = this.meta;
    await this.putMeta(
      update.state === 'verified'
        ? {
            ...kept,
            state: 'verified',
            version: update.version,
            securityCounter: update.securityCounter,
          }
        : { ...kept, state: update.state },
    );
  }

  /** Exactly `length` bytes at `position`, or 'slot-changed' if the file is shorter. */
  async readChecked(position: number, length: number): Promise<Uint8Array> {
    const bytes = await this.image.read(position, length);
    if (bytes.length !== length) {
      throw new StorageError(
        'slot-changed',
        `slot ${this.id}: image file ends at ${position + bytes.length}, expected ${position + length}`,
      );
    }
    return bytes;
  }

  async close(): Promise<void> {
    await this.image.close();
    await this.progressFile.close();
  }
}
