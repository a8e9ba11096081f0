import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HARDWARE_REVISIONS,
  isSupportedHardwareRevision,
  parseHardwareRevision,
} from './hardware.js';
import {
  formatModuleSerial,
  mod11_2CheckCharacter,
  validateModuleSerial,
} from './module-serial.js';

describe('module serial', () => {
  it('uses ISO 7064 MOD 11-2 (the ORCID / ISNI check character)', () => {
    // ORCID 0000-0002-1825-0097: check character 7; 0000-0001-5109-3700: check character 0.
    expect(mod11_2CheckCharacter('000000021825009')).toBe('7');
    expect(mod11_2CheckCharacter('000000015109370')).toBe('0');
    expect(mod11_2CheckCharacter('000000021694233')).toBe('X'); // 0000-0002-1694-233X
  });

  it('formats and validates the canonical form', () => {
    expect(formatModuleSerial({ year: 2024, sequence: 1234 })).toBe('MSM-24-001234-3');
    expect(formatModuleSerial({ year: 24, sequence: 5018 })).toBe('MSM-24-005018-X');
    expect(validateModuleSerial('MSM-24-001234-3')).toEqual({
      ok: true,
      serial: 'MSM-24-001234-3',
      year: 2024,
      sequence: 1234,
    });
  });

  it.each(['msm-24-001234-3', 'MSM240012343', ' MSM 24 001234 3 ', '24-001234-3'])(
    'accepts %j as typed and returns the canonical form',
    (input) => {
      expect(validateModuleSerial(input)).toMatchObject({ ok: true, serial: 'MSM-24-001234-3' });
    },
  );

  it('catches a mistyped digit with expected and found', () => {
    const result = validateModuleSerial('MSM-24-001235-3');
    expect(result).toMatchObject({ ok: false, reason: 'check-character-mismatch', found: '3' });
    if (!result.ok) expect(result.message).toMatch(/label/);
  });

  it.each([
    '',
    'MSM-000123',
    'MSM-E2E-0001',
    'MSM-24-OO1234-3',
    'ABC-24-001234-3',
    'MSM-24-001234-33',
  ])('rejects %j as wrong format', (input) => {
    expect(validateModuleSerial(input)).toMatchObject({ ok: false, reason: 'wrong-format' });
  });

  it('hints at O and I for letters typed instead of digits', () => {
    const result = validateModuleSerial('MSM-24-OO1234-3');
    expect(!result.ok && result.message).toMatch(/O is 0/);
  });

  it('refuses out-of-range parts when formatting', () => {
    expect(() => formatModuleSerial({ year: 2100, sequence: 1 })).toThrow(RangeError);
    expect(() => formatModuleSerial({ year: 2024, sequence: 1_000_000 })).toThrow(RangeError);
    expect(() => formatModuleSerial({ year: 2024, sequence: 1.5 })).toThrow(RangeError);
  });

  const serialParts = fc.record({
    year: fc.integer({ min: 2000, max: 2099 }),
    sequence: fc.integer({ min: 0, max: 999_999 }),
  });

  it('round-trips every serial it formats', () => {
    fc.assert(
      fc.property(serialParts, (parts) => {
        expect(validateModuleSerial(formatModuleSerial(parts))).toEqual({
          ok: true,
          serial: formatModuleSerial(parts),
          ...parts,
        });
      }),
    );
  });

  it('catches every single substitution and every swap of neighbours', () => {
    fc.assert(
      fc.property(serialParts, fc.integer({ min: 0, max: 8 }), fc.nat(9), (parts, i, d) => {
        const chars = [...formatModuleSerial(parts).replace(/-/g, '').slice(3)];
        const substituted = [...chars];
        substituted[i] = String(d);
        if (substituted[i] !== chars[i]) {
          expect(validateModuleSerial(substituted.join('')).ok).toBe(false);
        }
        if (i < 8 && chars[i] !== chars[i + 1]) {
          const swapped = [...chars];
          [swapped[i], swapped[i + 1]] = [chars[i + 1] ?? '', chars[i] ?? ''];
          expect(validateModuleSerial(swapped.join('')).ok).toBe(false);
        }
      }),
    );
  });

  it('never throws, whatever the string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(typeof validateModuleSerial(text).ok).toBe('boolean');
      }),
    );
  });
});

describe('hardware revisions', () => {
  it('has unique ids, and says why an unsupported revision is unsupported', () => {
    const ids = HARDWARE_REVISIONS.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const revision of HARDWARE_REVISIONS) {
      expect(revision.supported || (revision.unsupportedBecause ?? '') !== '').toBe(true);
    }
  });

  it('reads the spellings modules and labels use', () => {
    expect(parseHardwareRevision('HW-C')).toBe('HW-C');
    expect(parseHardwareRevision('hw-b')).toBe('HW-B');
    expect(parseHardwareRevision('C')).toBe('HW-C');
    expect(parseHardwareRevision('HW-Z')).toBeUndefined();
    expect(parseHardwareRevision('HW-CC')).toBeUndefined();
  });

  it('supports B and C but not the A samples', () => {
    expect(isSupportedHardwareRevision('HW-A')).toBe(false);
    expect(isSupportedHardwareRevision('HW-B')).toBe(true);
    expect(isSupportedHardwareRevision('HW-C')).toBe(true);
    expect(isSupportedHardwareRevision('HW-Q')).toBe(false);
  });
});
