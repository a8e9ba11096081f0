/**
 * Image slots A and B: large images written in chunks during a flash over a slow serial line,
 * resumable after a cut from the committed offset, then read back as a stream by the verifier.
 * Layout under the store's directory: a/ and b/, one ImageSlot each (see image-slot.ts).
 */
import { join } from 'node:path';
import type { FileOps } from './file-ops.js';
import { StorageError } from './errors.js';
import type { ImageIdentity, SlotInfo } from './image-slot.js';
import { ImageSlot } from './image-slot.js';
import { nodeFileOps } from './node-file-ops.js';
import type { StorageOptions } from './record-store.js';
import type { SlotId, SlotStateUpdate } from './slot-meta.js';
import { SLOT_IDS } from './slot-meta.js';

/** Largest image a slot takes: offsets and sizes are u32 on the service link. */
export const MAX_IMAGE_LENGTH = 0xffffffff;
const DEFAULT_READ_CHUNK = 64 * 1024;

export interface BeginWriteOptions {
  /**
   * Continue an interrupted write of the same image (same SHA-256 and length) from its committed
   * offset. Default true; false always starts over.
   */
  readonly resume?: boolean;
}

/** The one writer of a slot, valid until the next beginWrite or eraseSlot of that slot. */
export interface SlotWriter {
  readonly slot: SlotId;
  readonly imageSha256: Uint8Array;
  readonly totalLength: number;
  /** Bytes below this offset are durable: a resumed transfer sends from here. */
  readonly committedOffset: number;
  /**
   * Writes `bytes` at `offset` and resolves with the new committed offset once they are durable.
   * Bytes below the committed offset are a retransmit: checked ('data-mismatch' if they differ),
   * never written twice. An offset above the committed one is an 'offset-gap' error.
   */
  append(offset: number, bytes: Uint8Array): Promise<number>;
  /**
   * All bytes are in: checks them against imageSha256 and marks the slot 'complete' (or 'invalid'
   * with 'image-hash-mismatch'). Idempotent.
   */
  complete(): Promise<SlotInfo>;
}

const checkSlotId = (slot: SlotId): void => {
  if (!SLOT_IDS.includes(slot)) throw new TypeError(`no image slot ${String(slot)}`);
};

export class SlotStore {
  private closed = false;
  /** Per slot, the token of its current writer; a stale writer's calls are refused. */
  private readonly writerTokens = new Map<SlotId, object>();

  private constructor(
    readonly dir: string,
    private readonly slots: ReadonlyMap<SlotId, ImageSlot>,
  ) {}

  /** Opens (creating if needed) both slots; drops bytes beyond each committed offset. */
  static async open(dir: string, options: StorageOptions = {}): Promise<SlotStore> {
    const ops: FileOps = options.fileOps ?? nodeFileOps;
    const slots = new Map<SlotId, ImageSlot>();
    for (const id of SLOT_IDS) {
      const slotDir = join(dir, id.toLowerCase());
      await ops.mkdirs(slotDir);
      slots.set(id, await ImageSlot.open(id, slotDir, ops));
    }
    return new SlotStore(dir, slots);
  }

  private slot(id: SlotId): ImageSlot {
    checkSlotId(id);
    if (this.closed) throw new StorageError('closed', 'the slot store is closed');
    return this.slots.get(id) as ImageSlot;
  }

  /** State, image identity, committed offset and version of a slot. */
  async info(slot: SlotId): Promise<SlotInfo> {
    const target = this.slot(slot);
    return target.queue.run(async () => target.info());
  }

  async committedOffset(slot: SlotId): Promise<number> {
    return (await this.info(slot)).committedOffset;
  }

  /**
   * Starts writing `image` into `slot`, or resumes the interrupted write of the same image
   * (state 'writing', or 'complete' with nothing left to send). Anything else in the slot is
   * durably discarded first. The caller picks the slot: storage does not know which one runs.
   */
  async beginWrite(
    slot: SlotId,
    image: ImageIdentity,
    options: BeginWriteOptions = {},
  ): Promise<SlotWriter> {
    const target = this.slot(slot);
    if (image.imageSha256.length !== 32) throw new TypeError('imageSha256 must be 32 bytes');
    if (!Number.isInteger(image.totalLength) || image.totalLength < 1) {
      throw new TypeError(`image length ${image.totalLength} is not a positive integer`);
    }
    if (image.totalLength > MAX_IMAGE_LENGTH) {
      throw new StorageError('beyond-end', `an image of ${image.totalLength} bytes is too large`);
    }
    const token = {};
    this.writerTokens.set(slot, token); // any earlier writer of this slot is stale from now on
    const identity: ImageIdentity = {
      imageSha256: image.imageSha256.slice(),
      totalLength: image.totalLength,
    };
    return target.queue.run(async () => {
      const resumable = (options.resume ?? true) && target.holds(identity);
      const state = target.info().state;
      if (resumable && state === 'writing') await target.resume();
      else if (!(resumable && state === 'complete')) await target.restart('writing', identity);
      return this.writer(target, identity, token);
    });
  }

  private writer(target: ImageSlot, image: ImageIdentity, token: object): SlotWriter {
    const guarded = <T>(operation: () => Promise<T>): Promise<T> => {
      const check = (): void => {
        if (this.closed) throw new StorageError('closed', 'the slot store is closed');
        if (this.writerTokens.get(target.id) !== token) {
          throw new StorageError(
            'writer-superseded',
            `slot ${target.id} was rewritten or erased since this write began`,
          );
        }
      };
      try {
        check();
      } catch (error) {
        return Promise.reject(error);
      }
      return target.queue.run(async () => {
        check(); // again: a beginWrite or erase may have been queued before this call
        return operation();
      });
    };
    return {
      slot: target.id,
      imageSha256: image.imageSha256,
      totalLength: image.totalLength,
      get committedOffset() {
        return target.committedOffset;
      },
      append: (offset, bytes) => guarded(() => target.append(offset, bytes)),
      complete: () =>
        guarded(async () => {
          await target.complete();
          return target.info();
        }),
    };
  }

  /**
   * The slot's committed bytes (the whole image once complete), in chunks, so a verifier can hash
   * an image without holding it. Fails with 'slot-changed' if the slot is erased or rewritten
   * while being read.
   */
  async *readSlot(
    slot: SlotId,
    options: { readonly chunkSize?: number } = {},
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const target = this.slot(slot);
    const chunkSize = options.chunkSize ?? DEFAULT_READ_CHUNK;
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new TypeError('bad chunk size');
    const { generation, length } = await target.queue.run(async () => ({
      generation: target.generation,
      length: target.committedOffset,
    }));
    for (let position = 0; position < length; position += chunkSize) {
      yield await target.queue.run(async () => {
        if (target.generation !== generation) {
          throw new StorageError('slot-changed', `slot ${slot} was rewritten while being read`);
        }
        return target.readChecked(position, Math.min(chunkSize, length - position));
      });
    }
  }

  /** Durably empties the slot; its current writer, if any, becomes stale. */
  async eraseSlot(slot: SlotId): Promise<void> {
    const target = this.slot(slot);
    this.writerTokens.delete(slot);
    return target.queue.run(() => target.restart('empty'));
  }

  /**
   * The boot loader's record of what it found: 'verified' (with the image's version and security
   * counter) only once complete; 'trial' and 'confirmed' only once verified; 'invalid' any time.
   */
  async setSlotState(slot: SlotId, update: SlotStateUpdate): Promise<SlotInfo> {
    const target = this.slot(slot);
    return target.queue.run(async () => {
      await target.setState(update);
      return target.info();
    });
  }

  /** Closes the slot files once pending operations are done; the store is unusable after. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const target of this.slots.values()) {
      await target.queue.run(() => target.close());
    }
  }
}
