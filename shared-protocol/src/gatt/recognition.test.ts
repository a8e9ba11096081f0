import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { utf8 } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';
import {
  ADVERTISING_WINDOW_MS,
  buildAdvertisement,
  decodeAdvertisement,
  windowIndexAt,
  type AdvertisedState,
  type AdvertisementPayload,
} from './advertisement.js';
import {
  RECOGNITION_ENTRY_SIZE,
  decodeRecognitionMaterial,
  encodeRecognitionMaterial,
  matchAdvertisement,
  recognitionCoverage,
  recognitionMaterialFor,
  recognitionWindowCount,
} from './recognition.js';

const secret = sha256(utf8('recognition test secret'));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 2, 3, 8, 7); // not on a window boundary
const state: AdvertisedState = {
  locked: false,
  allClosed: true,
  ignitionOn: true,
  bookingActive: true,
};

/** What a phone hears from the module at module time `timeMs`. */
const heard = (timeMs: number, key = secret): AdvertisementPayload =>
  decodeAdvertisement(buildAdvertisement(key, timeMs, state)) as AdvertisementPayload;

describe('recognition material', () => {
  const material = recognitionMaterialFor(secret, T0, T0 + 2 * HOUR);

  it('covers exactly the windows overlapping the validity', () => {
    expect(material.firstWindow).toBe(windowIndexAt(T0));
    expect(recognitionWindowCount(material)).toBe(9); // 08:00 … 10:00 windows
    const { fromMs, untilMs } = recognitionCoverage(material);
    expect(fromMs).toBeLessThanOrEqual(T0);
    expect(T0 - fromMs).toBeLessThan(ADVERTISING_WINDOW_MS);
    expect(untilMs).toBeGreaterThanOrEqual(T0 + 2 * HOUR);
    expect(untilMs - (T0 + 2 * HOUR)).toBeLessThan(ADVERTISING_WINDOW_MS);
  });

  it('recognises the car throughout the validity, and reads its state', () => {
    for (let t = T0; t < T0 + 2 * HOUR; t += 60_000) {
      expect(matchAdvertisement(material, heard(t), t)).toEqual({
        mine: true,
        windowIndex: windowIndexAt(t),
        state,
      });
    }
  });

  it('tolerates one window of clock difference between phone and module', () => {
    const t = T0 + HOUR;
    expect(matchAdvertisement(material, heard(t - ADVERTISING_WINDOW_MS), t).mine).toBe(true);
    expect(matchAdvertisement(material, heard(t + ADVERTISING_WINDOW_MS), t).mine).toBe(true);
    expect(matchAdvertisement(material, heard(t - 2 * ADVERTISING_WINDOW_MS), t).mine).toBe(false);
    expect(matchAdvertisement(material, heard(t + 2 * ADVERTISING_WINDOW_MS), t).mine).toBe(false);
  });

  it('recognises nothing outside the windows of the validity, whatever the phone clock says', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 * DAY }),
        fc.integer({ min: 1, max: 3 * DAY }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.integer({ min: -1, max: 1 }),
        (offset, length, distance, after, skew) => {
          const from = T0 + offset;
          const m = recognitionMaterialFor(secret, from, from + length);
          const outside = after
            ? m.firstWindow + recognitionWindowCount(m) - 1 + distance
            : m.firstWindow - distance;
          const moduleTime = outside * ADVERTISING_WINDOW_MS + 1000;
          const phoneTime = moduleTime + skew * ADVERTISING_WINDOW_MS;
          expect(matchAdvertisement(m, heard(moduleTime), phoneTime).mine).toBe(false);
        },
      ),
    );
  });

  it('an advertisement recorded earlier and replayed later does not match', () => {
    const recorded = heard(T0);
    expect(matchAdvertisement(material, recorded, T0 + HOUR).mine).toBe(false);
  });

  it('does not recognise another car', () => {
    const other = sha256(utf8('another car'));
    expect(matchAdvertisement(material, heard(T0 + HOUR, other), T0 + HOUR).mine).toBe(false);
  });

  it('is about 6 KB for a 7-day key', () => {
    const aligned = Date.UTC(2025, 2, 3);
    const week = recognitionMaterialFor(secret, aligned, aligned + 7 * DAY);
    expect(recognitionWindowCount(week)).toBe(672);
    expect(week.windows.length).toBe(672 * RECOGNITION_ENTRY_SIZE); // 6048
    expect(encodeRecognitionMaterial(week).length).toBeLessThanOrEqual(6060);
    const unaligned = recognitionMaterialFor(secret, T0, T0 + 7 * DAY);
    expect(recognitionWindowCount(unaligned)).toBe(673);
  });

  it('refuses an empty or over-long validity', () => {
    expect(() => recognitionMaterialFor(secret, T0, T0)).toThrow(RangeError);
    expect(() => recognitionMaterialFor(secret, T0, T0 + 32 * DAY)).toThrow(RangeError);
  });

  it('encodes for transport; decoding never throws', () => {
    expect(decodeRecognitionMaterial(encodeRecognitionMaterial(material))).toEqual(material);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const decoded = decodeRecognitionMaterial(bytes);
        if (decoded) expect(decoded.windows.length % RECOGNITION_ENTRY_SIZE).toBe(0);
      }),
    );
    expect(decodeRecognitionMaterial(new Uint8Array([0x12, 0x01, 0x00]))).toBeUndefined();
  });
});
