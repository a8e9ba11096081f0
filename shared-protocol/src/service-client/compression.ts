/**
 * Raw deflate (RFC 1951) through the platform's CompressionStream, so the same code runs in Node
 * 20 and in browsers without a zlib dependency. Flashing sends the compressed stream and the
 * module inflates it: firmware images shrink to about a quarter, so the line carries more image.
 */
async function pipe(bytes: Uint8Array, transform: CompressionStream | DecompressionStream) {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new CompressionStream('deflate-raw'));
}

export function inflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new DecompressionStream('deflate-raw'));
}

/**
 * Image bytes per deflate segment (PROTOCOL.md section 11). Measured on the module's own firmware
 * (427 KB): one stream 3.96x, 64 KiB segments 3.80x, 32 KiB 3.69x, 16 KiB 3.50x. 64 KiB keeps
 * 96 % of the single-stream gain while a power cut costs at most one segment (about 17 KB on the
 * line) and the module holds one segment in RAM.
 */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024;
/** Segments a flash_begin may list: keeps the request well inside one frame. */
export const MAX_SEGMENTS = 1024;

/** A deflate-compressed transfer: the segments' streams one after the other. */
export interface SegmentedDeflate {
  /** Image bytes per segment (the last one may be shorter). */
  segmentSize: number;
  /** Compressed length of each segment, in order. */
  segmentTransferSizes: number[];
  /** What goes on the line. */
  transfer: Uint8Array;
}

/**
 * Deflates every `segmentSize` image bytes as an independent raw-deflate stream, so the module can
 * inflate and write each segment on its own and a transfer can resume at any segment boundary.
 * The segment size grows when the image would need more than MAX_SEGMENTS of them.
 */
export async function deflateRawSegments(
  image: Uint8Array,
  segmentSize = DEFAULT_SEGMENT_SIZE,
): Promise<SegmentedDeflate> {
  if (!Number.isInteger(segmentSize) || segmentSize < 1) {
    throw new RangeError(`segment size ${segmentSize} is not a positive integer`);
  }
  const size = Math.max(segmentSize, Math.ceil(image.length / MAX_SEGMENTS));
  const segments: Uint8Array[] = [];
  for (let offset = 0; offset < image.length; offset += size) {
    segments.push(await deflateRaw(image.subarray(offset, offset + size)));
  }
  const transfer = new Uint8Array(segments.reduce((sum, segment) => sum + segment.length, 0));
  let position = 0;
  for (const segment of segments) {
    transfer.set(segment, position);
    position += segment.length;
  }
  return {
    segmentSize: size,
    segmentTransferSizes: segments.map((segment) => segment.length),
    transfer,
  };
}

/** The image back from a segmented transfer (for tests and the fake module). */
export async function inflateRawSegments(
  transfer: Uint8Array,
  segmentTransferSizes: readonly number[],
): Promise<Uint8Array[]> {
  const segments: Uint8Array[] = [];
  let position = 0;
  for (const length of segmentTransferSizes) {
    segments.push(await inflateRaw(transfer.subarray(position, position + length)));
    position += length;
  }
  return segments;
}
