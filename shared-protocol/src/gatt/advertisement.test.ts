import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, utf8 } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';
import {
  ADVERTISEMENT_SIZE,
  ADVERTISING_WINDOW_MS,
  LEGACY_ADVERTISING_DATA_MAX,
  buildAdvertisement,
  decodeAdvertisedState,
  decodeAdvertisement,
  decodeAdvertisementServiceData,
  encodeAdvertisedState,
  encodeAdvertisement,
  rotatingIdentifier,
  windowIndexAt,
  windowTag,
  type AdvertisedState,
} from './advertisement.js';
import { KEY_SERVICE_UUID, uuidToAirBytes } from './uuids.js';

const secret = sha256(utf8('advertisement test secret'));
const payloadArb = fc.record({
  identifier: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  maskedState: fc.nat(255),
});
const stateArb: fc.Arbitrary<AdvertisedState> = fc.record({
  locked: fc.boolean(),
  allClosed: fc.boolean(),
  ignitionOn: fc.boolean(),
  bookingActive: fc.boolean(),
});

const hamming = (a: Uint8Array, b: Uint8Array): number =>
  a.reduce((sum, byte, i) => {
    let x = byte ^ (b[i] as number);
    let bits = 0;
    for (; x; x >>= 1) bits += x & 1;
    return sum + bits;
  }, 0);

describe('advertisement layout', () => {
  it('fits legacy advertising: flags AD + service data AD = 31 bytes', () => {
    const bytes = encodeAdvertisement({ identifier: new Uint8Array(8).fill(0xaa), maskedState: 5 });
    expect(ADVERTISEMENT_SIZE).toBe(31);
    expect(bytes.length).toBeLessThanOrEqual(LEGACY_ADVERTISING_DATA_MAX);
    expect([...bytes.subarray(0, 5)]).toEqual([0x02, 0x01, 0x06, 27, 0x21]);
    expect(bytes.subarray(5, 21)).toEqual(uuidToAirBytes(KEY_SERVICE_UUID));
    expect([...bytes.subarray(21)]).toEqual([1, ...new Array(8).fill(0xaa), 5]);
  });

  it('puts the UUID on air little-endian', () => {
    expect(uuidToAirBytes('00112233-4455-6677-8899-aabbccddeeff')).toEqual(
      fromHex('ffeeddccbbaa99887766554433221100'),
    );
  });

  it('decodes what it encodes, also among other AD structures', () => {
    fc.assert(
      fc.property(payloadArb, (payload) => {
        const advertisement = encodeAdvertisement(payload);
        expect(decodeAdvertisement(advertisement)).toEqual(payload);
        const withName = new Uint8Array([4, 0x09, 0x61, 0x62, 0x63, ...advertisement.subarray(3)]);
        expect(decodeAdvertisement(withName)).toEqual(payload);
        expect(decodeAdvertisementServiceData(advertisement.subarray(21))).toEqual(payload);
      }),
    );
  });

  it('decoding never throws and finds nothing in garbage or truncated data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 62 }), (bytes) => {
        const decoded = decodeAdvertisement(bytes);
        if (decoded) expect(decoded.identifier.length).toBe(8);
      }),
      { numRuns: 1000 },
    );
    const advertisement = encodeAdvertisement({ identifier: new Uint8Array(8), maskedState: 0 });
    for (let cut = 0; cut < advertisement.length; cut++) {
      expect(decodeAdvertisement(advertisement.subarray(0, cut))).toBeUndefined();
    }
    const otherVersion = advertisement.slice();
    otherVersion[21] = 2;
    expect(decodeAdvertisement(otherVersion)).toBeUndefined();
  });

  it('state bits round-trip; reserved bits mean "not for me"', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        expect(decodeAdvertisedState(encodeAdvertisedState(state))).toEqual(state);
      }),
    );
    expect(decodeAdvertisedState(0x10)).toBeUndefined();
  });
});

describe('rotating identifier', () => {
  it('windows are 15 minutes aligned to the epoch', () => {
    expect(ADVERTISING_WINDOW_MS).toBe(900_000);
    expect(windowIndexAt(0)).toBe(0);
    expect(windowIndexAt(899_999)).toBe(0);
    expect(windowIndexAt(900_000)).toBe(1);
    const t = Date.UTC(2025, 0, 15, 9, 14, 59, 999);
    expect(windowIndexAt(t) + 1).toBe(windowIndexAt(t + 1));
  });

  it('is the first 8 bytes of the HMAC and constant within a window', () => {
    const w = windowIndexAt(Date.UTC(2025, 0, 15, 9, 0));
    expect(rotatingIdentifier(secret, w)).toHaveLength(8);
    expect(rotatingIdentifier(secret, w)).toEqual(windowTag(secret, w).identifier);
    const start = w * ADVERTISING_WINDOW_MS;
    const state = { locked: true, allClosed: true, ignitionOn: false, bookingActive: false };
    expect(buildAdvertisement(secret, start, state)).toEqual(
      buildAdvertisement(secret, start + ADVERTISING_WINDOW_MS - 1, state),
    );
    expect(() => rotatingIdentifier(new Uint8Array(15), w)).toThrow(RangeError);
    expect(() => rotatingIdentifier(secret, -1)).toThrow(RangeError);
  });

  it('consecutive windows look unrelated to anyone without the secret', () => {
    const first = windowIndexAt(Date.UTC(2025, 0, 1));
    const count = 2000;
    const ids = Array.from({ length: count }, (_, i) => rotatingIdentifier(secret, first + i));
    expect(new Set(ids.map((id) => id.join())).size).toBe(count);
    // Consecutive identifiers differ in about half their 64 bits, with no fixed XOR pattern.
    const distances = ids.slice(1).map((id, i) => hamming(id, ids[i] as Uint8Array));
    const mean = distances.reduce((a, b) => a + b, 0) / distances.length;
    expect(mean).toBeGreaterThan(30);
    expect(mean).toBeLessThan(34);
    expect(Math.min(...distances)).toBeGreaterThan(8);
    // Every bit position is set about half the time.
    for (let bit = 0; bit < 64; bit++) {
      const ones = ids.filter((id) => ((id[bit >> 3] as number) >> (bit & 7)) & 1).length;
      expect(ones / count).toBeGreaterThan(0.43);
      expect(ones / count).toBeLessThan(0.57);
    }
    // Another car's identifiers share nothing with these.
    const other = sha256(utf8('another module'));
    expect(rotatingIdentifier(other, first)).not.toEqual(ids[0]);
  });

  it('masks the state differently in every window, so an unchanged state links nothing', () => {
    const state = { locked: true, allClosed: true, ignitionOn: false, bookingActive: false };
    const first = windowIndexAt(Date.UTC(2025, 0, 1));
    const masked = Array.from({ length: 200 }, (_, i) => {
      const bytes = buildAdvertisement(secret, (first + i) * ADVERTISING_WINDOW_MS, state);
      return bytes[30] as number;
    });
    expect(new Set(masked).size).toBeGreaterThan(100);
  });
});
