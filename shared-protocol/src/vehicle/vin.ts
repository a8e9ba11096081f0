/**
 * Vehicle identification numbers (ISO 3779; check digit and model year per 49 CFR 565).
 *
 * Input is trimmed and upper-cased before anything else, so " wmw…" and "WMW…" are the same VIN.
 * Inner spaces and dashes are not removed: a VIN has none, and silently dropping them would hide
 * a mistyped character.
 */
import { manufacturerOf, vinRegionOf, type VinRegion, type WorldManufacturer } from './wmi.js';

export const VIN_LENGTH = 17;
/** 1-based position of the check digit. */
export const VIN_CHECK_DIGIT_POSITION = 9;

/** ISO 3779 alphabet: digits and letters except I, O and Q (mistaken for 1 and 0). */
const VIN_ALPHABET = /^[A-HJ-NPR-Z0-9]$/;

/** 49 CFR 565.15 transliteration of letters to numbers for the check digit. */
// prettier-ignore
const TRANSLITERATION: Readonly<Record<string, number>> = {
  A: 1, B: 2, C: 3, D: 4, E: 5, F: 6, G: 7, H: 8,
  J: 1, K: 2, L: 3, M: 4, N: 5, P: 7, R: 9,
  S: 2, T: 3, U: 4, V: 5, W: 6, X: 7, Y: 8, Z: 9,
};

/** Weight per position 1..17; position 9 (the check digit itself) weighs 0. */
const WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2] as const;

/** Markets whose registration rules require a correct check digit whatever the car's origin. */
const CHECK_DIGIT_MARKETS: ReadonlySet<string> = new Set(['US', 'CA']);

/** Model-year codes (position 10) in cycle order; each cycle is 30 years. */
const MODEL_YEAR_CODES = 'ABCDEFGHJKLMNPRSTVWXY123456789';

export interface VinOptions {
  /**
   * ISO 3166-1 alpha-2 market the car is registered in. US and CA cars need a correct check
   * digit even when built elsewhere (every MINI sold there has one); without a market only the
   * VIN's origin decides.
   */
  market?: string;
}

export interface ValidVin {
  ok: true;
  /** Normalised: trimmed and upper-cased. */
  vin: string;
  wmi: string;
  /** Undefined when the WMI is not in the table; that is not an error. */
  manufacturer: WorldManufacturer | undefined;
  region: VinRegion | undefined;
  /** True when the check digit was required and matched. */
  checkDigitVerified: boolean;
  /** Decoded only under the North American rules (position 10, with position 7 for the cycle). */
  modelYear?: number;
}

export type InvalidVin =
  | { ok: false; reason: 'wrong-length'; message: string; length: number }
  | {
      ok: false;
      reason: 'invalid-character';
      message: string;
      /** The offending character as entered (after upper-casing). */
      character: string;
      /** 1-based position of the first offending character. */
      position: number;
    }
  | {
      ok: false;
      reason: 'check-digit-mismatch';
      message: string;
      expected: string;
      found: string;
    };

export type VinValidation = ValidVin | InvalidVin;
export type VinRejection = InvalidVin['reason'];

const CHECK_LABEL = 'Check the VIN on the windscreen label or the registration document';

/** Validates and decodes a VIN. Never throws, whatever the string. */
export function validateVin(text: string, options: VinOptions = {}): VinValidation {
  const vin = String(text).trim().toUpperCase();
  // Code points, not UTF-16 units, so an emoji is one (invalid) character, not two.
  const characters = Array.from(vin);
  if (characters.length !== VIN_LENGTH) {
    return {
      ok: false,
      reason: 'wrong-length',
      length: characters.length,
      message:
        characters.length === 0
          ? `No VIN entered. ${CHECK_LABEL} and enter all 17 characters.`
          : `The VIN has ${characters.length} characters; a VIN has exactly 17. ${CHECK_LABEL}.`,
    };
  }
  const bad = characters.findIndex((c) => !VIN_ALPHABET.test(c));
  if (bad >= 0) {
    const character = characters[bad] ?? '';
    return {
      ok: false,
      reason: 'invalid-character',
      character,
      position: bad + 1,
      message: `Character ${bad + 1} of the VIN is ${showCharacter(character)}, which a VIN never contains${confusionHint(character)}. ${CHECK_LABEL}.`,
    };
  }

  const region = vinRegionOf(vin[0] ?? '');
  const northAmerican =
    region === 'north-america' ||
    (options.market !== undefined && CHECK_DIGIT_MARKETS.has(options.market.toUpperCase()));
  if (northAmerican) {
    const expected = vinCheckDigit(vin);
    const found = vin[VIN_CHECK_DIGIT_POSITION - 1] ?? '';
    if (expected !== found) {
      return {
        ok: false,
        reason: 'check-digit-mismatch',
        expected,
        found,
        message: `The VIN's check digit (character 9) is ${found} but the other characters give ${expected}, so at least one character is mistyped. ${CHECK_LABEL}.`,
      };
    }
  }
  const modelYear = northAmerican ? northAmericanModelYear(vin) : undefined;
  return {
    ok: true,
    vin,
    wmi: vin.slice(0, 3),
    manufacturer: manufacturerOf(vin),
    region,
    checkDigitVerified: northAmerican,
    ...(modelYear === undefined ? {} : { modelYear }),
  };
}

/**
 * The check digit (0–9 or X) the other 16 characters of a VIN call for. The input must be 17
 * characters of the VIN alphabet (upper case); position 9 is ignored. Throws RangeError otherwise:
 * callers validate first.
 */
export function vinCheckDigit(vin: string): string {
  if (vin.length !== VIN_LENGTH) throw new RangeError(`VIN must have 17 characters: ${vin}`);
  let sum = 0;
  for (let i = 0; i < VIN_LENGTH; i += 1) {
    const c = vin[i] ?? '';
    if (!VIN_ALPHABET.test(c)) throw new RangeError(`not a VIN character at ${i + 1}: ${vin}`);
    const value = c >= '0' && c <= '9' ? Number(c) : (TRANSLITERATION[c] ?? 0);
    sum += value * (WEIGHTS[i] ?? 0);
  }
  const remainder = sum % 11;
  return remainder === 10 ? 'X' : String(remainder);
}

/** The same VIN with position 9 set to its correct check digit (test data, the simulator). */
export function withVinCheckDigit(vin: string): string {
  const upper = vin.toUpperCase();
  const digit = vinCheckDigit(upper);
  return (
    upper.slice(0, VIN_CHECK_DIGIT_POSITION - 1) + digit + upper.slice(VIN_CHECK_DIGIT_POSITION)
  );
}

/**
 * 49 CFR 565.15: position 10 encodes the model year in 30-year cycles; for passenger cars a
 * letter in position 7 means 2010–2039, a digit 1980–2009. Undefined for codes that name no year
 * (0, U, Z).
 */
function northAmericanModelYear(vin: string): number | undefined {
  const index = MODEL_YEAR_CODES.indexOf(vin[9] ?? '');
  if (index < 0) return undefined;
  const position7 = vin[6] ?? '';
  const secondCycle = position7 < '0' || position7 > '9';
  return (secondCycle ? 2010 : 1980) + index;
}

/** Short form of a rejection for lists of errors (fleet files), without the advice. */
export function describeVinProblem(invalid: InvalidVin): string {
  switch (invalid.reason) {
    case 'wrong-length':
      return `must have 17 characters, has ${invalid.length}`;
    case 'invalid-character':
      return `character ${invalid.position} is ${showCharacter(invalid.character)}, not allowed in a VIN${confusionHint(invalid.character)}`;
    case 'check-digit-mismatch':
      return `check digit mismatch: character 9 is ${invalid.found}, the VIN calls for ${invalid.expected}`;
  }
}

function confusionHint(character: string): string {
  if (character === 'I') return ' (I is never used; it is probably the digit 1)';
  if (character === 'O' || character === 'Q') {
    return ` (${character} is never used; it is probably the digit 0)`;
  }
  return '';
}

function showCharacter(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  if (character === ' ') return 'a space';
  // Control, format and space characters are invisible when quoted: name them by code point.
  if (/[\p{C}\p{Z}]/u.test(character)) {
    return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return `"${character}"`;
}
