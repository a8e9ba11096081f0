/**
 * Taking flash_data chunks into the target slot (PROTOCOL.md section 11), one receiver per
 * flash_begin: uncompressed chunks are appended as they come; deflate segments are assembled in
 * RAM, inflated when complete and appended whole. Both hold chunks that arrived ahead of a lost
 * one until the gap is filled, so the host resends only what is missing.
 */
import { inflateRawSync } from 'node:zlib';
import { ErrorCode } from '@mini-sharing/shared-protocol/messages';
import { ServiceError } from '@mini-sharing/shared-protocol/session';
import { StorageError, type SlotWriter, type StorageErrorCode } from '../storage/index.js';
import {
  committedTransferOffset,
  segmentImageLength,
  segmentsWritten,
  type RawTransfer,
  type SegmentedTransfer,
  type TransferDescription,
} from './flash-transfer.js';

export interface TransferReceiver {
  readonly transfer: TransferDescription;
  readonly writer: SlotWriter;
  /** Transfer bytes below this are written and survive a power cut. */
  readonly committedOffset: number;
  /**
   * Takes one chunk; resolves with the committed offset to report for it, once the writes it
   * completed (or, for a repeat, all writes started before it) have ended.
   */
  receive(offset: number, data: Uint8Array): Promise<number>;
}

export interface ReceiverOptions {
  writer: SlotWriter;
  /** Bytes a chunk may end beyond those received in order (chunk size times window). */
  aheadLimit: number;
  /** Runs after each write with the slot's committed offset (the early header check). */
  afterWrite(imageCommitted: number): Promise<void>;
}

const outOfRange = (message: string) =>
  new ServiceError(ErrorCode.FLASH_OFFSET_OUT_OF_RANGE, message);

const STORAGE_ERRORS: Partial<Record<StorageErrorCode, ErrorCode>> = {
  'offset-gap': ErrorCode.FLASH_OFFSET_OUT_OF_RANGE,
  'beyond-end': ErrorCode.FLASH_OFFSET_OUT_OF_RANGE,
  'data-mismatch': ErrorCode.BAD_REQUEST,
  'image-incomplete': ErrorCode.IMAGE_INCOMPLETE,
  'image-hash-mismatch': ErrorCode.IMAGE_HASH_MISMATCH,
};

/** Storage refusals (and anything unexpected), as service-link errors a host can act on. */
export function serviceErrorFrom(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof StorageError) {
    return new ServiceError(STORAGE_ERRORS[error.code] ?? ErrorCode.INTERNAL, error.message);
  }
  return new ServiceError(
    ErrorCode.INTERNAL,
    error instanceof Error ? error.message : String(error),
  );
}

/** Refuses a chunk beyond the transfer or beyond the window; bytes before `base` are in. */
function checkReach(
  offset: number,
  length: number,
  base: number,
  options: ReceiverOptions,
  size: number,
) {
  if (offset + length > base + options.aheadLimit) {
    throw outOfRange(
      `Chunk at ${offset} is beyond the window (received ${base}, window ${options.aheadLimit} bytes)`,
    );
  }
  if (offset + length > size) throw outOfRange(`Chunk at ${offset} ends past the transfer`);
}

/** Uncompressed: transfer bytes are image bytes, appended (durably) as they arrive in order. */
export function rawReceiver(transfer: RawTransfer, options: ReceiverOptions): TransferReceiver {
  const { writer } = options;
  /** Chunks that arrived ahead of the committed offset, bounded by the window. */
  const ahead = new Map<number, Uint8Array>();
  return {
    transfer,
    writer,
    get committedOffset() {
      return writer.committedOffset;
    },
    async receive(offset, data) {
      if (offset > writer.committedOffset) {
        checkReach(offset, data.length, writer.committedOffset, options, transfer.imageSize);
        ahead.set(offset, data.slice());
        return writer.committedOffset;
      }
      let committedOffset = await writer.append(offset, data);
      // the gap is filled: write what was waiting behind it, in order
      for (let next = ahead.get(committedOffset); next; next = ahead.get(committedOffset)) {
        ahead.delete(committedOffset);
        committedOffset = await writer.append(committedOffset, next);
      }
      for (const held of ahead.keys()) if (held < committedOffset) ahead.delete(held);
      await options.afterWrite(committedOffset);
      return committedOffset;
    },
  };
}

/**
 * Inflates one segment, refusing anything but a single deflate stream of exactly the announced
 * length that inflates to exactly the segment's image bytes. maxOutputLength stops a decompression
 * bomb before it takes the memory.
 */
export function inflateSegment(
  transfer: SegmentedTransfer,
  index: number,
  compressed: Uint8Array,
): Uint8Array {
  const expected = segmentImageLength(transfer, index);
  const start = transfer.segmentStarts[index] ?? 0;
  const where = `Segment ${index} (transfer bytes ${start}..${start + compressed.length})`;
  let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    // `info` also returns the engine, whose bytesWritten is the input the stream consumed
    inflated = inflateRawSync(compressed, {
      info: true,
      maxOutputLength: expected,
    } as never) as unknown as typeof inflated;
  } catch (error) {
    const why =
      (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
        ? `inflates to more than its ${expected} image bytes`
        : `is not a deflate stream (${error instanceof Error ? error.message : String(error)})`;
    throw new ServiceError(ErrorCode.IMAGE_HASH_MISMATCH, `${where} ${why}; it was dropped`);
  }
  if (inflated.buffer.length !== expected) {
    throw new ServiceError(
      ErrorCode.IMAGE_HASH_MISMATCH,
      `${where} inflates to ${inflated.buffer.length} bytes, not its ${expected} image bytes; it was dropped`,
    );
  }
  if (inflated.engine.bytesWritten !== compressed.length) {
    throw new ServiceError(
      ErrorCode.IMAGE_HASH_MISMATCH,
      `${where} ends after ${inflated.engine.bytesWritten} of its ${compressed.length} bytes; it was dropped`,
    );
  }
  return new Uint8Array(inflated.buffer.buffer, inflated.buffer.byteOffset, expected);
}

/**
 * Deflate segments. Bytes received in order collect in the buffer of the segment they belong to;
 * a complete segment is inflated and appended in a queue of writes (one at a time, in order), so
 * the slot's committed offset only ever stops at a segment boundary. The window counts from the
 * bytes received in order, not from the committed offset: that lags by up to a segment, and a
 * segment larger than the window would otherwise never complete.
 */
export function segmentReceiver(
  transfer: SegmentedTransfer,
  options: ReceiverOptions,
): TransferReceiver {
  const { writer } = options;
  const { segmentStarts, segmentTransferSizes } = transfer;
  const ahead = new Map<number, Uint8Array>();
  /** Bumped when a segment fails: what was received after it is dropped, queued writes too. */
  let epoch = 0;
  let dropped = new ServiceError(ErrorCode.INTERNAL, 'an earlier segment failed');
  /** The segment being assembled, and the transfer bytes received in order. */
  let segment = segmentsWritten(transfer, writer.committedOffset);
  let received = segmentStarts[segment] ?? 0;
  let buffer = new Uint8Array(segmentTransferSizes[segment] ?? 0);
  let writes: Promise<unknown> = Promise.resolve();

  /** Writes segment `index` after those queued before it; rejects with why it failed. */
  function queueWrite(index: number, compressed: Uint8Array): Promise<void> {
    const queuedIn = epoch;
    const write = writes
      .then(async () => {
        if (queuedIn !== epoch) throw dropped;
        const image = inflateSegment(transfer, index, compressed);
        const committed = await writer.append(index * transfer.segmentSize, image);
        await options.afterWrite(committed);
      })
      .catch((error: unknown) => {
        const failure = serviceErrorFrom(error);
        if (queuedIn === epoch) {
          // drop this segment and all after it: the transfer goes on from its start (a resume)
          epoch += 1;
          dropped = failure;
          segment = index;
          received = segmentStarts[index] ?? 0;
          buffer = new Uint8Array(segmentTransferSizes[index] ?? 0);
          ahead.clear();
        }
        throw failure;
      });
    writes = write.catch(() => {});
    return write;
  }

  /** Copies the part of a chunk beyond `received`; adds the writes of completed segments. */
  function take(offset: number, data: Uint8Array, started: Array<Promise<void>>): void {
    let position = received;
    let rest = data.subarray(received - offset);
    while (rest.length > 0) {
      const start = segmentStarts[segment] ?? 0;
      const part = rest.subarray(0, buffer.length - (position - start));
      buffer.set(part, position - start);
      position += part.length;
      rest = rest.subarray(part.length);
      if (position === segmentStarts[segment + 1]) {
        started.push(queueWrite(segment, buffer));
        segment += 1;
        buffer = new Uint8Array(segmentTransferSizes[segment] ?? 0);
      }
    }
    received = position;
  }

  const receiver: TransferReceiver = {
    transfer,
    writer,
    get committedOffset() {
      return committedTransferOffset(transfer, writer.committedOffset);
    },
    async receive(offset, data) {
      const end = offset + data.length;
      if (offset > received) {
        checkReach(offset, data.length, received, options, transfer.transferSize);
        ahead.set(offset, data.slice());
        return receiver.committedOffset;
      }
      if (end > transfer.transferSize) {
        throw outOfRange(`Chunk at ${offset} ends past the transfer`);
      }
      if (end <= received) {
        // a repeat: answer once what it belongs to is written (or has failed)
        await writes;
        return receiver.committedOffset;
      }
      const started: Array<Promise<void>> = [];
      take(offset, data, started);
      // the gap is filled: take what was waiting behind it
      for (let more = true; more;) {
        more = false;
        for (const [held, bytes] of ahead) {
          if (held > received) continue;
          ahead.delete(held);
          if (held + bytes.length > received) take(held, bytes, started);
          more = true;
        }
      }
      // answer once the segments this chunk completed are written; a failure is this chunk's
      // (all of them awaited together: a later one fails too once an earlier one did)
      await Promise.all(started);
      return receiver.committedOffset;
    },
  };
  return receiver;
}
