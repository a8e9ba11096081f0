import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32c } from '@aws-crypto/crc32c';
import {
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_OVERHEAD,
  FrameDecoder,
  encodeFrame,
  maxEncodedSize,
} from './index.js';

/** Bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78), the reference a C port would use. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('CRC-32C', () => {
  it('has the standard check value: CRC-32C("123456789") = 0xE3069283', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(referenceCrc32c(ascii('123456789'))).toBe(0xe3069283);
  });

  it('agrees with the bitwise reference on any input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(crc32c(bytes)).toBe(referenceCrc32c(bytes));
      }),
    );
  });
});

describe('encodeFrame', () => {
  // Wire vectors for implementers. Decoded content is type | seq LE | payload | CRC-32C LE.
  it.each([
    {
      name: 'type 0x01, seq 0x0203, payload 00 11',
      // decoded: 01 03 02 00 11 | crc 0xB21B86C1 -> c1 86 1b b2
      frame: { type: 0x01, seq: 0x0203, payload: Uint8Array.of(0x00, 0x11) },
      wire: [0x00, 0x04, 0x01, 0x03, 0x02, 0x06, 0x11, 0xc1, 0x86, 0x1b, 0xb2, 0x00],
    },
    {
      name: 'type 0, seq 0, empty payload',
      // decoded: 00 00 00 | crc 0x6064A37A -> 7a a3 64 60
      frame: { type: 0, seq: 0, payload: new Uint8Array(0) },
      wire: [0x00, 0x01, 0x01, 0x01, 0x05, 0x7a, 0xa3, 0x64, 0x60, 0x00],
    },
    {
      name: 'type 0x10, seq 1, payload "123456789"',
      // decoded: 10 01 00 31..39 | crc 0xFDDB60AF -> af 60 db fd
      frame: { type: 0x10, seq: 0x0001, payload: ascii('123456789') },
      wire: [
        0x00, 0x03, 0x10, 0x01, 0x0e, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0xaf,
        0x60, 0xdb, 0xfd, 0x00,
      ],
    },
  ])('$name', ({ frame, wire }) => {
    expect(Array.from(encodeFrame(frame))).toEqual(wire);
    expect(new FrameDecoder().push(Uint8Array.from(wire))).toEqual([frame]);
  });

  it('has 7 bytes of overhead before COBS', () => {
    expect(FRAME_OVERHEAD).toBe(7);
    expect(DEFAULT_MAX_FRAME_SIZE).toBe(16384);
  });

  it('delimits with 0x00 at both ends only and stays within maxEncodedSize', () => {
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.uint8Array({ min: 1, max: 255, minLength: 240, maxLength: 1100 }),
    );
    fc.assert(
      fc.property(fc.nat(255), fc.nat(0xffff), payload, (type, seq, bytes) => {
        const wire = encodeFrame({ type, seq, payload: bytes });
        expect(wire.length).toBeLessThanOrEqual(maxEncodedSize(bytes.length));
        expect(wire[0]).toBe(0);
        expect(wire[wire.length - 1]).toBe(0);
        expect(wire.subarray(1, -1).includes(0)).toBe(false);
        expect(wire.byteOffset).toBe(0);
        expect(wire.buffer.byteLength).toBe(wire.length);
      }),
    );
  });

  it.each([
    { name: 'negative type', frame: { type: -1, seq: 0 } },
    { name: 'type above 255', frame: { type: 256, seq: 0 } },
    { name: 'fractional type', frame: { type: 1.5, seq: 0 } },
    { name: 'negative seq', frame: { type: 0, seq: -1 } },
    { name: 'seq above 65535', frame: { type: 0, seq: 0x10000 } },
    { name: 'NaN seq', frame: { type: 0, seq: Number.NaN } },
  ])('rejects $name with a RangeError', ({ frame }) => {
    expect(() => encodeFrame({ ...frame, payload: new Uint8Array(1) })).toThrow(RangeError);
  });

  it('rejects a payload too large for maxFrameSize with a RangeError', () => {
    const largest = DEFAULT_MAX_FRAME_SIZE - FRAME_OVERHEAD;
    expect(() => encodeFrame({ type: 1, seq: 1, payload: new Uint8Array(largest) })).not.toThrow();
    expect(() => encodeFrame({ type: 1, seq: 1, payload: new Uint8Array(largest + 1) })).toThrow(
      RangeError,
    );
    const small = { maxFrameSize: 10 };
    expect(() => encodeFrame({ type: 1, seq: 1, payload: new Uint8Array(3) }, small)).not.toThrow();
    expect(() => encodeFrame({ type: 1, seq: 1, payload: new Uint8Array(4) }, small)).toThrow(
      RangeError,
    );
  });

  it('rejects an invalid maxFrameSize in the encoder and the decoder', () => {
    for (const maxFrameSize of [0, 6, 7.5, Number.NaN, Infinity]) {
      expect(() => new FrameDecoder({ maxFrameSize })).toThrow(RangeError);
      expect(() =>
        encodeFrame({ type: 0, seq: 0, payload: new Uint8Array(0) }, { maxFrameSize }),
      ).toThrow(RangeError);
    }
  });
});
