import { crc32c } from '@aws-crypto/crc32c';
import { cobsEncodeInto, cobsMaxEncodedLength } from './cobs.js';

/**
 * One service-link frame. On the wire:
 * `0x00 | COBS( type:u8 | seq:u16 LE | payload | crc32c:u32 LE ) | 0x00`,
 * the CRC-32C (Castagnoli) covering type, seq and payload.
 */
export interface Frame {
  /** Message type, 0..255. */
  type: number;
  /** Sequence number, 0..65535. */
  seq: number;
  payload: Uint8Array;
}

/** Bytes of header (type, seq) before the payload. */
export const FRAME_HEADER_SIZE = 3;
/** Bytes of CRC after the payload. */
export const FRAME_CRC_SIZE = 4;
/** Decoded bytes of a frame besides its payload: header and CRC. */
export const FRAME_OVERHEAD = FRAME_HEADER_SIZE + FRAME_CRC_SIZE;
/** Largest decoded frame (header + payload + CRC) accepted unless configured otherwise. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;

export interface FrameSizeOptions {
  /** Largest decoded frame (header + payload + CRC), at least FRAME_OVERHEAD. */
  maxFrameSize?: number;
}

/** Validates a configured maxFrameSize; a bad value is a programming error. */
export function resolveMaxFrameSize(options: FrameSizeOptions | undefined): number {
  const maxFrameSize = options?.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (!Number.isSafeInteger(maxFrameSize) || maxFrameSize < FRAME_OVERHEAD) {
    throw new RangeError(
      `maxFrameSize must be an integer >= ${FRAME_OVERHEAD}, got ${String(maxFrameSize)}`,
    );
  }
  return maxFrameSize;
}

/** Most bytes `encodeFrame` produces for a payload of this length, both delimiters included. */
export function maxEncodedSize(payloadLength: number): number {
  return cobsMaxEncodedLength(payloadLength + FRAME_OVERHEAD) + 2;
}

/**
 * Encodes one frame, leading and trailing 0x00 delimiters included. The leading delimiter lets
 * the receiver resynchronise on this frame whatever line garbage came before it.
 *
 * Throws RangeError when type or seq is out of range or the frame would exceed maxFrameSize:
 * the sender built a frame the receiver is bound to drop.
 */
export function encodeFrame(frame: Frame, options?: FrameSizeOptions): Uint8Array {
  const { type, seq, payload } = frame;
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new RangeError(`frame type must be an integer 0..255, got ${String(type)}`);
  }
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) {
    throw new RangeError(`frame seq must be an integer 0..65535, got ${String(seq)}`);
  }
  const maxFrameSize = resolveMaxFrameSize(options);
  const decodedLength = payload.length + FRAME_OVERHEAD;
  if (decodedLength > maxFrameSize) {
    throw new RangeError(
      `frame payload of ${payload.length} bytes exceeds maxFrameSize ${maxFrameSize} ` +
        `(${FRAME_OVERHEAD} bytes of header and CRC included)`,
    );
  }

  const decoded = scratch(decodedLength, 'decoded');
  decoded[0] = type;
  decoded[1] = seq & 0xff;
  decoded[2] = seq >>> 8;
  decoded.set(payload, FRAME_HEADER_SIZE);
  const crcOffset = decodedLength - FRAME_CRC_SIZE;
  writeUint32LE(decoded, crcOffset, crc32c(decoded.subarray(0, crcOffset)));

  const encoded = scratch(maxEncodedSize(payload.length), 'encoded');
  encoded[0] = 0x00;
  const end = cobsEncodeInto(decoded, encoded, 1);
  encoded[end] = 0x00;
  // An exact-size copy the caller owns (safe to keep, and its .buffer holds only this frame).
  return encoded.slice(0, end + 1);
}

// Reused work buffers: encoding is synchronous, so one pair serves every call and a frame costs
// a single allocation (its result).
const scratchBuffers = { decoded: new Uint8Array(0), encoded: new Uint8Array(0) };

function scratch(length: number, which: keyof typeof scratchBuffers): Uint8Array {
  let buffer = scratchBuffers[which];
  if (buffer.length < length) {
    buffer = new Uint8Array(Math.max(length, buffer.length * 2));
    scratchBuffers[which] = buffer;
  }
  return buffer.subarray(0, length);
}

export function writeUint32LE(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value & 0xff;
  target[offset + 1] = (value >>> 8) & 0xff;
  target[offset + 2] = (value >>> 16) & 0xff;
  target[offset + 3] = value >>> 24;
}

export function readUint32LE(source: Uint8Array, offset: number): number {
  return (
    ((source[offset] as number) |
      ((source[offset + 1] as number) << 8) |
      ((source[offset + 2] as number) << 16) |
      ((source[offset + 3] as number) << 24)) >>>
    0
  );
}
