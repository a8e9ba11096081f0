import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FirmwareHeaderFields } from './index.js';
import {
  FIRMWARE_HEADER_LENGTH,
  FIRMWARE_HEADER_OFFSETS as O,
  encodeFirmwareHeader,
  parseFirmwareHeader,
} from './index.js';

const idArb = fc
  .uint8Array({ min: 0x21, max: 0x7e, minLength: 1, maxLength: 8 })
  .map((bytes) => String.fromCharCode(...bytes));
const fieldsArb: fc.Arbitrary<FirmwareHeaderFields> = fc.record({
  hardwareRevisions: fc.uniqueArray(idArb, { minLength: 1, maxLength: 8 }),
  version: fc.record({ major: fc.nat(0xffff), minor: fc.nat(0xffff), patch: fc.nat(0xffff) }),
  securityCounter: fc.nat({ max: 0xffffffff }),
  payloadLength: fc.nat({ max: 0xffffffff }),
  payloadSha256: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  signingKeyId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
});

const header: FirmwareHeaderFields = {
  hardwareRevisions: ['HW-B', 'HW-C'],
  version: { major: 1, minor: 2, patch: 3 },
  securityCounter: 0x01020304,
  payloadLength: 0x0a0b0c0d,
  payloadSha256: new Uint8Array(32).fill(0xaa),
  signingKeyId: new Uint8Array(8).fill(0xbb),
};

describe('firmware header layout', () => {
  it('puts every field at its documented offset, little-endian', () => {
    const bytes = encodeFirmwareHeader(header);
    const at = (offset: number, length: number) => [...bytes.subarray(offset, offset + length)];
    expect(bytes).toHaveLength(FIRMWARE_HEADER_LENGTH);
    expect(at(O.magic, 4)).toEqual([0x4d, 0x53, 0x46, 0x57]);
    expect(at(O.formatVersion, 2)).toEqual([1, 0]);
    expect(at(O.headerLength, 2)).toEqual([128, 0]);
    expect(at(O.securityCounter, 4)).toEqual([4, 3, 2, 1]);
    expect(at(O.payloadLength, 4)).toEqual([0x0d, 0x0c, 0x0b, 0x0a]);
    expect(at(O.versionMajor, 6)).toEqual([1, 0, 2, 0, 3, 0]);
    expect(at(O.hardwareRevisionCount, 2)).toEqual([2, 0]);
    expect(at(O.hardwareRevisions, 16)).toEqual([
      ...[0x48, 0x57, 0x2d, 0x42, 0, 0, 0, 0],
      ...[0x48, 0x57, 0x2d, 0x43, 0, 0, 0, 0],
    ]);
    expect(at(O.hardwareRevisions + 16, 48).every((byte) => byte === 0)).toBe(true);
    expect(at(O.signingKeyId, 8)).toEqual(new Array(8).fill(0xbb));
    expect(at(O.payloadSha256, 32)).toEqual(new Array(32).fill(0xaa));
  });

  it('parses what it encodes', () => {
    fc.assert(
      fc.property(fieldsArb, (fields) => {
        expect(parseFirmwareHeader(encodeFirmwareHeader(fields))).toEqual({
          ok: true,
          header: { formatVersion: 1, headerLength: 128, ...fields },
        });
      }),
    );
  });

  it('reads the header from a subarray anywhere in a buffer', () => {
    const buffer = new Uint8Array(300);
    buffer.set(encodeFirmwareHeader(header), 17);
    expect(parseFirmwareHeader(buffer.subarray(17))).toMatchObject({ ok: true });
  });

  it('accepts exactly one encoding: whatever it parses encodes back to the same bytes', () => {
    const bytes = encodeFirmwareHeader(header);
    const changes = fc.array(fc.tuple(fc.nat(FIRMWARE_HEADER_LENGTH - 1), fc.nat(255)), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(changes, (edits) => {
        const changed = bytes.slice();
        for (const [at, value] of edits) changed[at] = value;
        const parsed = parseFirmwareHeader(changed);
        if (parsed.ok) expect(encodeFirmwareHeader(parsed.header)).toEqual(changed);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses padding, reserved and unused-slot bytes that are not zero, and repeated ids', () => {
    const bytes = encodeFirmwareHeader(header);
    const damagedAt = (at: number, value: number) => {
      const changed = bytes.slice();
      changed[at] = value;
      return parseFirmwareHeader(changed);
    };
    const malformed = { ok: false, reason: 'malformed-header' };
    expect(damagedAt(O.reserved, 1)).toMatchObject(malformed);
    expect(damagedAt(O.hardwareRevisions + 5, 0x41)).toMatchObject(malformed); // "HW-B\0A"
    expect(damagedAt(O.hardwareRevisions, 0)).toMatchObject(malformed); // empty id
    expect(damagedAt(O.hardwareRevisions + 1, 0x7f)).toMatchObject(malformed); // not printable
    expect(damagedAt(O.hardwareRevisions + 16, 0x41)).toMatchObject(malformed); // unused slot
    expect(damagedAt(O.hardwareRevisions + 11, 0x42)).toMatchObject({
      ok: false,
      message: expect.stringContaining('HW-B listed twice'),
    });
    expect(damagedAt(O.headerLength, 129)).toMatchObject(malformed);
  });

  it('gives typed reasons for what is not a header', () => {
    const bytes = encodeFirmwareHeader(header);
    expect(parseFirmwareHeader(new Uint8Array(0))).toMatchObject({ reason: 'truncated' });
    expect(parseFirmwareHeader(bytes.subarray(0, 127))).toMatchObject({ reason: 'truncated' });
    expect(parseFirmwareHeader(Uint8Array.of(0x4d, 0x00))).toMatchObject({ reason: 'bad-magic' });
    const v2 = bytes.slice();
    v2[O.formatVersion] = 2;
    expect(parseFirmwareHeader(v2.subarray(0, 6))).toMatchObject({
      reason: 'unsupported-format-version',
    });
    const noIds = bytes.slice();
    noIds[O.hardwareRevisionCount] = 0;
    expect(parseFirmwareHeader(noIds)).toMatchObject({ reason: 'malformed-header' });
    const nineIds = bytes.slice();
    nineIds[O.hardwareRevisionCount] = 9;
    expect(parseFirmwareHeader(nineIds)).toMatchObject({ reason: 'malformed-header' });
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const withMagic = new Uint8Array(bytes.length + 6);
        withMagic.set([0x4d, 0x53, 0x46, 0x57, 1, 0]);
        withMagic.set(bytes, 6);
        expect(typeof parseFirmwareHeader(bytes).ok).toBe('boolean');
        expect(typeof parseFirmwareHeader(withMagic).ok).toBe('boolean');
      }),
    );
  });
});
