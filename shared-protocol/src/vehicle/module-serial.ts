/**
 * Module serial numbers: the module's id everywhere (label, service link, certificate, cloud,
 * MQTT topics).
 *
 * Format `MSM-YY-NNNNNN-C`: "MSM", the two-digit year of manufacture, a six-digit sequence
 * number within that year, and an ISO 7064 MOD 11-2 check character (0–9 or X) over the eight
 * digits. MOD 11-2 catches every single mistyped digit and every swap of two neighbouring digits,
 * the two mistakes people make copying a label.
 */

export const MODULE_SERIAL_PREFIX = 'MSM';

export interface ValidModuleSerial {
  ok: true;
  /** Canonical form, e.g. "MSM-24-001234-3". */
  serial: string;
  /** Year of manufacture, e.g. 2024. */
  year: number;
  /** Sequence number within the year, 0..999999. */
  sequence: number;
}

export type InvalidModuleSerial =
  | { ok: false; reason: 'wrong-format'; message: string }
  | {
      ok: false;
      reason: 'check-character-mismatch';
      message: string;
      expected: string;
      found: string;
    };

export type ModuleSerialValidation = ValidModuleSerial | InvalidModuleSerial;

const CHECK_LABEL = "Check the serial number on the module's label";
/** After removing spaces and dashes: optional prefix, 8 digits, check character. */
const COMPACT = /^(?:MSM)?(\d{2})(\d{6})([0-9X])$/;

/**
 * Validates a module serial as typed or scanned: case, spaces and dashes do not matter, the
 * "MSM" prefix may be left out. Never throws.
 */
export function validateModuleSerial(text: string): ModuleSerialValidation {
  const compact = String(text)
    .toUpperCase()
    .replace(/[\s-]+/g, '');
  const match = COMPACT.exec(compact);
  if (!match) {
    const hint = /[OIL]/.test(compact.replace(/^MSM/, ''))
      ? ' The serial has only digits after MSM (and X as the last character): O is 0, I and L are 1.'
      : '';
    return {
      ok: false,
      reason: 'wrong-format',
      message: `"${shorten(String(text).trim())}" is not a module serial number; one looks like MSM-24-001234-3.${hint} ${CHECK_LABEL}.`,
    };
  }
  const [, yy = '', sequence = '', found = ''] = match;
  const expected = mod11_2CheckCharacter(yy + sequence);
  if (expected !== found) {
    return {
      ok: false,
      reason: 'check-character-mismatch',
      expected,
      found,
      message: `The module serial's last character is ${found} but the digits before it give ${expected}, so a digit is mistyped. ${CHECK_LABEL}.`,
    };
  }
  return {
    ok: true,
    serial: `${MODULE_SERIAL_PREFIX}-${yy}-${sequence}-${found}`,
    year: 2000 + Number(yy),
    sequence: Number(sequence),
  };
}

/**
 * The canonical serial for a year of manufacture (2000..2099, or 0..99) and a sequence number
 * (0..999999). Throws RangeError for values outside those ranges: a programming error.
 */
export function formatModuleSerial(parts: { year: number; sequence: number }): string {
  const { year, sequence } = parts;
  const yy = year >= 2000 ? year - 2000 : year;
  if (!Number.isInteger(yy) || yy < 0 || yy > 99) {
    throw new RangeError(`module serial year must be 2000..2099, got ${String(year)}`);
  }
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > 999_999) {
    throw new RangeError(`module serial sequence must be 0..999999, got ${String(sequence)}`);
  }
  const digits = String(yy).padStart(2, '0') + String(sequence).padStart(6, '0');
  const check = mod11_2CheckCharacter(digits);
  return `${MODULE_SERIAL_PREFIX}-${digits.slice(0, 2)}-${digits.slice(2)}-${check}`;
}

/** Short form of a rejection for lists of errors (fleet files), without the advice. */
export function describeModuleSerialProblem(invalid: InvalidModuleSerial): string {
  if (invalid.reason === 'wrong-format') return 'not a module serial (format MSM-YY-NNNNNN-C)';
  return `check character mismatch: the last character is ${invalid.found}, the digits call for ${invalid.expected}`;
}

/** The canonical form of a valid serial, or undefined; for comparing serials from two sources. */
export function canonicalModuleSerial(text: string): string | undefined {
  const result = validateModuleSerial(text);
  return result.ok ? result.serial : undefined;
}

/** ISO 7064 MOD 11-2 (pure system): check character 0–9 or X for a string of digits. */
export function mod11_2CheckCharacter(digits: string): string {
  let p = 0;
  for (const c of digits) {
    p = ((p + Number(c)) * 2) % 11;
  }
  const check = (12 - p) % 11;
  return check === 10 ? 'X' : String(check);
}

function shorten(text: string): string {
  const characters = Array.from(text);
  return characters.length <= 32 ? text : `${characters.slice(0, 32).join('')}…`;
}
