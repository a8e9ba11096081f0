import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateVin, vinCheckDigit, withVinCheckDigit } from './vin.js';
import { isMiniWmi, manufacturerOf, vinRegionOf } from './wmi.js';

const VIN_ALPHABET = [...'ABCDEFGHJKLMNPRSTUVWXYZ0123456789'];

/** Transliteration written differently from the implementation: A–I, J–R = 1–9, S–Z = 2–9. */
function valueOf(c: string): number {
  if (c >= '0' && c <= '9') return Number(c);
  for (const [row, start] of [
    ['ABCDEFGHI', 1],
    ['JKLMNOPQR', 1],
    ['STUVWXYZ', 2],
  ] as const) {
    const i = row.indexOf(c);
    if (i >= 0) return start + i;
  }
  throw new Error(`not a VIN character: ${c}`);
}

describe('validateVin', () => {
  it('accepts a European MINI VIN without checking its check digit', () => {
    const result = validateVin('WMW31DH0302S71642');
    expect(result).toMatchObject({ ok: true, vin: 'WMW31DH0302S71642', wmi: 'WMW' });
    if (!result.ok) return;
    expect(result.manufacturer?.brand).toBe('MINI');
    expect(result.region).toBe('europe');
    expect(result.checkDigitVerified).toBe(false);
    expect(result.modelYear).toBeUndefined();
  });

  it('trims and upper-cases before validating', () => {
    expect(validateVin('  wmw31dh0302s71642\n')).toMatchObject({
      ok: true,
      vin: 'WMW31DH0302S71642',
    });
  });

  it('checks the check digit of North American VINs, including X', () => {
    expect(validateVin('1M8GDM9AXKP042788')).toMatchObject({
      ok: true,
      checkDigitVerified: true,
      region: 'north-america',
      modelYear: 1989,
      manufacturer: undefined,
    });
    expect(validateVin('5UXTY5C0XR9U31709')).toMatchObject({
      ok: true,
      checkDigitVerified: true,
      modelYear: 2024,
      manufacturer: { brand: 'BMW' },
    });
  });

  it('rejects a North American VIN with a wrong check digit, naming expected and found', () => {
    const result = validateVin('5UXTY5C05R9U31709');
    expect(result).toMatchObject({
      ok: false,
      reason: 'check-digit-mismatch',
      expected: 'X',
      found: '5',
    });
    if (result.ok) return;
    expect(result.message).toMatch(/windscreen/);
  });

  it('requires the check digit for US and CA market cars built elsewhere', () => {
    expect(validateVin('WMW53DH05P2T41785', { market: 'us' })).toMatchObject({
      ok: true,
      checkDigitVerified: true,
      modelYear: 2023,
    });
    expect(validateVin('WMW31DH0302S71642', { market: 'CA' })).toMatchObject({
      ok: false,
      reason: 'check-digit-mismatch',
    });
    expect(validateVin('WMW31DH0302S71642', { market: 'DE' }).ok).toBe(true);
  });

  it.each([
    ['WMW31DH03I2S71642', 'I', 10, /digit 1/],
    ['WMW31DH0302S7164O', 'O', 17, /digit 0/],
    ['QMW31DH0302S71642', 'Q', 1, /digit 0/],
    ['WMW-31DH0302S7164', '-', 4, /"-"/],
    ['WMW31DH0302S71 42', ' ', 15, /a space/],
    ['WMW31DH0302S7164\u200b', '\u200b', 17, /U\+200B/],
  ])('rejects %j: character %j at position %i', (input, character, position, words) => {
    const result = validateVin(input);
    expect(result).toMatchObject({ ok: false, reason: 'invalid-character', character, position });
    if (result.ok) return;
    expect(result.message).toMatch(words);
    expect(result.message).toContain(`Character ${position}`);
  });

  it.each([
    ['', 0],
    ['WMW31DH0302S7164', 16],
    ['WMW31DH0302S716420', 18],
    ['🚗'.repeat(17) + 'A', 18],
  ])('rejects %j as wrong length (%i)', (input, length) => {
    expect(validateVin(input)).toMatchObject({ ok: false, reason: 'wrong-length', length });
  });

  it('counts an emoji as one character', () => {
    expect(validateVin('WMW31DH0302S7164🚗')).toMatchObject({
      ok: false,
      reason: 'invalid-character',
      position: 17,
    });
  });

  it('leaves the model year out when position 10 names none', () => {
    const result = validateVin(withVinCheckDigit('1M8GDM9A0UP042788'));
    expect(result.ok && result.modelYear).toBeUndefined();
  });
});

describe('VIN properties', () => {
  const vinCharacter = fc.constantFrom(...VIN_ALPHABET);
  const northAmericanVin = fc
    .tuple(fc.constantFrom(...'12345'), fc.array(vinCharacter, { minLength: 16, maxLength: 16 }))
    .map(([first, rest]) => withVinCheckDigit(first + rest.join('')));

  it('never throws, whatever the string', () => {
    const nearVin = fc.string({
      unit: fc.constantFrom(...VIN_ALPHABET, 'I', 'O', 'Q', 'a', '-', ' ', 'é', '\0'),
      minLength: 15,
      maxLength: 19,
    });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), nearVin), fc.string(), (text, market) => {
        const result = validateVin(text, { market });
        expect(typeof result.ok).toBe('boolean');
      }),
    );
  });

  it('accepts every generated North American VIN and is idempotent on its output', () => {
    fc.assert(
      fc.property(northAmericanVin, (vin) => {
        const result = validateVin(vin);
        expect(result).toMatchObject({ ok: true, vin, checkDigitVerified: true });
        expect(validateVin(vin.toLowerCase())).toEqual(result);
      }),
    );
  });

  it('catches every one-character change that changes the weighted value', () => {
    fc.assert(
      fc.property(
        northAmericanVin,
        fc.integer({ min: 0, max: 16 }),
        fc.constantFrom(...VIN_ALPHABET, 'I', 'O', 'Q'),
        (vin, index, replacement) => {
          fc.pre(vin[index] !== replacement);
          const changed = vin.slice(0, index) + replacement + vin.slice(index + 1);
          // The market keeps the North American rules even when position 1 changes.
          const result = validateVin(changed, { market: 'US' });
          if ('IOQ'.includes(replacement)) {
            expect(result).toMatchObject({ ok: false, reason: 'invalid-character' });
          } else if (index === 8) {
            expect(result).toMatchObject({ ok: false, reason: 'check-digit-mismatch' });
          } else {
            const sameValue = valueOf(replacement) === valueOf(vin[index] ?? '');
            // Same value (e.g. A for J): the check digit cannot see it; otherwise it must.
            expect(result.ok).toBe(sameValue);
            expect(vinCheckDigit(changed) === vinCheckDigit(vin)).toBe(sameValue);
          }
        },
      ),
    );
  });
});

describe('WMI table', () => {
  it('knows the MINI WMIs and nothing else as MINI', () => {
    expect(isMiniWmi('WMW')).toBe(true);
    expect(isMiniWmi('wmz21ga0707t90415')).toBe(true);
    expect(isMiniWmi('WBA')).toBe(false);
    expect(isMiniWmi('5UX')).toBe(false);
    expect(isMiniWmi('')).toBe(false);
  });

  it('treats an unknown WMI as an unknown manufacturer, not an error', () => {
    expect(manufacturerOf('VF1')).toBeUndefined();
    expect(validateVin('VF1RFB00X63512345')).toMatchObject({ ok: true, manufacturer: undefined });
  });

  it('names regions from position 1', () => {
    expect(vinRegionOf('W')).toBe('europe');
    expect(vinRegionOf('5')).toBe('north-america');
    expect(vinRegionOf('J')).toBe('asia');
    expect(vinRegionOf('9')).toBe('south-america');
    expect(vinRegionOf('0')).toBeUndefined();
  });
});
