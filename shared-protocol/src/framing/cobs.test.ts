import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cobsEncodeInto, cobsMaxEncodedLength } from './cobs.js';

function cobsEncode(bytes: ArrayLike<number>): number[] {
  const src = Uint8Array.from(bytes);
  const dst = new Uint8Array(cobsMaxEncodedLength(src.length));
  return Array.from(dst.subarray(0, cobsEncodeInto(src, dst, 0)));
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, k) => from + k);

describe('COBS encoder', () => {
  // The examples from Cheshire & Baker's paper as listed on Wikipedia ("Consistent Overhead Byte
  // Stuffing"), without the trailing delimiter, so a C implementation can compare byte for byte.
  it.each([
    { name: 'one zero', data: [0x00], encoded: [0x01, 0x01] },
    { name: 'two zeros', data: [0x00, 0x00], encoded: [0x01, 0x01, 0x01] },
    { name: 'zero, byte, zero', data: [0x00, 0x11, 0x00], encoded: [0x01, 0x02, 0x11, 0x01] },
    {
      name: 'zero in the middle',
      data: [0x11, 0x22, 0x00, 0x33],
      encoded: [0x03, 0x11, 0x22, 0x02, 0x33],
    },
    { name: 'no zero', data: [0x11, 0x22, 0x33, 0x44], encoded: [0x05, 0x11, 0x22, 0x33, 0x44] },
    {
      name: 'trailing zeros',
      data: [0x11, 0x00, 0x00, 0x00],
      encoded: [0x02, 0x11, 0x01, 0x01, 0x01],
    },
    { name: '254 non-zero bytes', data: range(0x01, 0xfe), encoded: [0xff, ...range(0x01, 0xfe)] },
    {
      name: 'zero then 254 non-zero bytes',
      data: range(0x00, 0xfe),
      encoded: [0x01, 0xff, ...range(0x01, 0xfe)],
    },
    {
      name: '255 non-zero bytes',
      data: range(0x01, 0xff),
      encoded: [0xff, ...range(0x01, 0xfe), 0x02, 0xff],
    },
    {
      name: '254 non-zero bytes then zero',
      data: [...range(0x02, 0xff), 0x00],
      encoded: [0xff, ...range(0x02, 0xff), 0x01, 0x01],
    },
    {
      name: '253 non-zero bytes, zero, byte',
      data: [...range(0x03, 0xff), 0x00, 0x01],
      encoded: [0xfe, ...range(0x03, 0xff), 0x02, 0x01],
    },
    { name: 'empty input', data: [], encoded: [0x01] },
  ])('$name', ({ data, encoded }) => {
    expect(cobsEncode(data)).toEqual(encoded);
  });

  it('writes at the given offset and leaves the bytes before it alone', () => {
    const dst = new Uint8Array(8).fill(0xaa);
    const end = cobsEncodeInto(Uint8Array.of(0x11, 0x00, 0x22), dst, 2);
    expect(end).toBe(6);
    expect(Array.from(dst.subarray(0, end))).toEqual([0xaa, 0xaa, 0x02, 0x11, 0x02, 0x22]);
  });

  it('never emits a zero and stays within cobsMaxEncodedLength', () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 1200 }),
      fc.uint8Array({ min: 1, max: 255, minLength: 250, maxLength: 1200 }),
      fc.uint8Array({ min: 0, max: 1, maxLength: 600 }),
    );
    fc.assert(
      fc.property(data, (bytes) => {
        const encoded = cobsEncode(bytes);
        expect(encoded.length).toBeLessThanOrEqual(cobsMaxEncodedLength(bytes.length));
        expect(encoded.includes(0)).toBe(false);
      }),
    );
  });
});
