/**
 * What flash_begin announces about the bytes on the line (PROTOCOL.md section 11), checked at the
 * edge: the image as it is (compression none), or the image deflated in independent segments.
 * A segment is every `segmentSize` image bytes (the last one shorter), deflated on its own, so
 * the module inflates and writes whole segments and holds about one (plus the window) in RAM.
 *
 * The slot holds image bytes only, so its durable committed offset is in image bytes; this maps it
 * to the transfer of the moment. With segments it always stops at a segment boundary (whole
 * segments are appended), and segment k starting at image byte k * segmentSize corresponds to
 * transfer byte "sizes of segments 0..k-1 added up". A resume is therefore sound whatever the
 * earlier transfer looked like: it starts at the last boundary of the new transfer at or below the
 * image bytes written, and the bytes of the old one are never mixed in (the slot never held them).
 */
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  Compression,
  ErrorCode,
  type FlashBeginRequest,
} from '@mini-sharing/shared-protocol/messages';
import { ServiceError } from '@mini-sharing/shared-protocol/session';
import type { RecordStore, SlotId } from '../storage/index.js';

/** Segments below this make the table long and cost ratio for nothing. */
export const MIN_SEGMENT_SIZE = 4 * 1024;
/** The module holds one segment, inflated, in RAM. */
export const MAX_SEGMENT_SIZE = 1024 * 1024;
/** Keeps flash_begin well inside one frame (5 bytes a size at most, 16 KiB frames). */
export const MAX_SEGMENTS = 1024;

/**
 * The most a sane deflate encoder makes of `length` bytes: stored blocks add 5 bytes per 64 KiB,
 * fixed Huffman codes at most 1 bit per byte; anything longer is not a deflate stream of it.
 */
export const maxDeflatedLength = (length: number): number => length + Math.ceil(length / 8) + 64;

export interface RawTransfer {
  readonly compression: 'none';
  readonly imageSize: number;
  readonly transferSize: number;
}

export interface SegmentedTransfer {
  readonly compression: 'deflate';
  readonly imageSize: number;
  readonly transferSize: number;
  readonly segmentSize: number;
  /** Compressed length of each segment. */
  readonly segmentTransferSizes: readonly number[];
  /** Transfer offset where each segment starts, plus the transfer size at the end. */
  readonly segmentStarts: readonly number[];
}

export type TransferDescription = RawTransfer | SegmentedTransfer;

const badRequest = (message: string) => new ServiceError(ErrorCode.BAD_REQUEST, message);

/** Image bytes of segment `index`. */
export const segmentImageLength = (transfer: SegmentedTransfer, index: number): number =>
  Math.min(transfer.segmentSize, transfer.imageSize - index * transfer.segmentSize);

export function segmentedTransfer(
  imageSize: number,
  segmentSize: number,
  segmentTransferSizes: readonly number[],
): SegmentedTransfer {
  const segmentStarts = [0];
  for (const size of segmentTransferSizes) segmentStarts.push((segmentStarts.at(-1) ?? 0) + size);
  return {
    compression: 'deflate',
    imageSize,
    transferSize: segmentStarts.at(-1) ?? 0,
    segmentSize,
    segmentTransferSizes: [...segmentTransferSizes],
    segmentStarts,
  };
}

/**
 * The transfer flash_begin announces, or a ServiceError saying what is wrong with it (nothing has
 * been changed at that point). The image size and hash are checked by the caller.
 */
export function describeTransfer(request: FlashBeginRequest): TransferDescription {
  const { imageSize, transferSize, segmentSize, segmentTransferSizes: sizes } = request;
  if (request.compression === Compression.UNSPECIFIED || request.compression === Compression.NONE) {
    if (segmentSize !== 0 || sizes.length > 0) {
      throw badRequest('segment_size and segment_transfer_sizes belong to deflate transfers only');
    }
    if (transferSize !== 0 && transferSize !== imageSize) {
      throw badRequest(
        `An uncompressed transfer is the image: transfer_size ${transferSize} is not image_size ${imageSize}`,
      );
    }
    return { compression: 'none', imageSize, transferSize: imageSize };
  }
  if (request.compression !== Compression.DEFLATE) {
    throw new ServiceError(
      ErrorCode.UNSUPPORTED,
      `Compression ${request.compression} is not supported; send none or deflate`,
    );
  }
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw badRequest(
      `segment_size ${segmentSize} is outside ${MIN_SEGMENT_SIZE}..${MAX_SEGMENT_SIZE} image bytes`,
    );
  }
  const count = Math.ceil(imageSize / segmentSize);
  if (count > MAX_SEGMENTS) {
    throw badRequest(
      `${count} segments of ${segmentSize} bytes is more than ${MAX_SEGMENTS}; use larger segments`,
    );
  }
  if (sizes.length !== count) {
    throw badRequest(
      `segment_transfer_sizes lists ${sizes.length} segments; ${imageSize} image bytes in segments of ${segmentSize} make ${count}`,
    );
  }
  const transfer = segmentedTransfer(imageSize, segmentSize, sizes);
  sizes.forEach((size, index) => {
    const bound = maxDeflatedLength(segmentImageLength(transfer, index));
    if (size < 1 || size > bound) {
      throw badRequest(
        `Segment ${index} is announced as ${size} bytes; a deflate stream of it is 1..${bound}`,
      );
    }
  });
  if (transfer.transferSize !== transferSize) {
    throw badRequest(
      `The segment sizes add up to ${transfer.transferSize} bytes, not transfer_size ${transferSize}`,
    );
  }
  return transfer;
}

/** Whole segments the image bytes written cover. */
export function segmentsWritten(transfer: SegmentedTransfer, imageCommitted: number): number {
  if (imageCommitted >= transfer.imageSize) return transfer.segmentTransferSizes.length;
  return Math.floor(imageCommitted / transfer.segmentSize);
}

/** The transfer offset below which everything is written for good (and a resume starts). */
export function committedTransferOffset(
  transfer: TransferDescription,
  imageCommitted: number,
): number {
  if (transfer.compression === 'none') return imageCommitted;
  return transfer.segmentStarts[segmentsWritten(transfer, imageCommitted)] ?? 0;
}

/**
 * The transfer last begun, kept so flash_status can answer in transfer bytes after a restart too
 * (the slot itself only knows image bytes). Resuming does not depend on it (see above).
 */
interface TransferRecord {
  slot: SlotId;
  imageSha256: string;
  imageSize: number;
  compression: 'none' | 'deflate';
  segmentSize: number;
  segmentTransferSizes: number[];
}

const TRANSFER_RECORD = 'flash-transfer';

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function isTransferRecord(value: unknown): value is TransferRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    (record.slot === 'A' || record.slot === 'B') &&
    typeof record.imageSha256 === 'string' &&
    isCount(record.imageSize) &&
    (record.compression === 'none' || record.compression === 'deflate') &&
    isCount(record.segmentSize) &&
    Array.isArray(record.segmentTransferSizes) &&
    record.segmentTransferSizes.every(isCount)
  );
}

function toRecord(slot: SlotId, imageSha256: Uint8Array, transfer: TransferDescription) {
  const segmented = transfer.compression === 'deflate';
  return {
    slot,
    imageSha256: toHex(imageSha256),
    imageSize: transfer.imageSize,
    compression: transfer.compression,
    segmentSize: segmented ? transfer.segmentSize : 0,
    segmentTransferSizes: segmented ? [...transfer.segmentTransferSizes] : [],
  } satisfies TransferRecord;
}

/** Records the transfer being begun (one durable write, only when it differs from the stored). */
export async function rememberTransfer(
  records: RecordStore,
  slot: SlotId,
  imageSha256: Uint8Array,
  transfer: TransferDescription,
): Promise<void> {
  const record = toRecord(slot, imageSha256, transfer);
  const stored = await records.getJson(TRANSFER_RECORD, isTransferRecord).catch(() => undefined);
  if (JSON.stringify(stored) === JSON.stringify(record)) return;
  await records.putJson(TRANSFER_RECORD, record, isTransferRecord);
}

/** The transfer last begun for this image in this slot, if the module knows it. */
export async function recallTransfer(
  records: RecordStore,
  slot: SlotId,
  imageSha256: Uint8Array,
): Promise<TransferDescription | undefined> {
  const stored = await records.getJson(TRANSFER_RECORD, isTransferRecord).catch(() => undefined);
  if (stored?.slot !== slot || stored.imageSha256 !== toHex(imageSha256)) return undefined;
  return stored.compression === 'none'
    ? { compression: 'none', imageSize: stored.imageSize, transferSize: stored.imageSize }
    : segmentedTransfer(stored.imageSize, stored.segmentSize, stored.segmentTransferSizes);
}
