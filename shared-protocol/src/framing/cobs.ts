/**
 * Consistent Overhead Byte Stuffing (COBS) encoder.
 *
 * Written by hand rather than taken from npm: no maintained COBS package offers a streaming
 * decoder with resynchronisation, size limits and drop accounting, which the service link needs
 * (the streaming decoder lives in `decoder.ts`; this file holds the encoder and its size bound).
 *
 * The encoder emits the minimal form: a block of 254 non-zero bytes (code 0xFF) that ends the data
 * is not followed by an extra 0x01 code. Decoders must accept both forms; ours does.
 */

/** Largest COBS block: code byte 0xFF followed by 254 non-zero bytes, no implied zero. */
export const COBS_MAX_BLOCK_DATA = 254;

/** Upper bound of the COBS-encoded length of `length` bytes (delimiters not included). */
export function cobsMaxEncodedLength(length: number): number {
  return length + 1 + Math.floor(length / COBS_MAX_BLOCK_DATA);
}

/**
 * COBS-encodes `src` into `dst` starting at `dstOffset` and returns the index just past the last
 * byte written. `dst` must have room for `cobsMaxEncodedLength(src.length)` bytes from the offset.
 */
export function cobsEncodeInto(src: Uint8Array, dst: Uint8Array, dstOffset: number): number {
  let codeIndex = dstOffset; // where the current block's code byte goes
  let out = dstOffset + 1;
  let code = 1; // 1 + number of data bytes in the current block
  const length = src.length;
  for (let i = 0; i < length; i++) {
    const byte = src[i] as number;
    if (byte === 0) {
      dst[codeIndex] = code;
      codeIndex = out++;
      code = 1;
      continue;
    }
    dst[out++] = byte;
    code++;
    if (code === 0xff) {
      dst[codeIndex] = code;
      code = 1;
      if (i === length - 1) return out; // minimal form: no trailing empty block
      codeIndex = out++;
    }
  }
  dst[codeIndex] = code;
  return out;
}
