/**
 * Vehicle order option codes ("SA codes"): three characters, digits and capital letters, e.g.
 * "5GE" (Flexible CarSharing Preparation), "6AC", "205".
 */

/** Flexible CarSharing Preparation: without it in the order and in the car, no module fits. */
export const SHARING_OPTION_CODE = '5GE';

const OPTION_CODE = /^[0-9A-Z]{3}$/;
/**
 * Workshop systems print option codes with a prefix ("S5GE" in order printouts, "$5GE" in
 * vehicle coding). A 4-character token with that prefix is the 3-character code: no real code
 * is four characters long, so this cannot misread one.
 */
const PREFIXED_OPTION_CODE = /^[S$]([0-9A-Z]{3})$/;
const SEPARATORS = /[\s,;]+/;

export type OptionCodesParse =
  | { ok: true; codes: string[] }
  | {
      ok: false;
      reason: 'malformed-option-codes';
      /** Every token that is not an option code, as entered (trimmed). */
      badTokens: string[];
      message: string;
    };

/**
 * Normalises option codes: splits on commas, semicolons and white space, upper-cases, strips the
 * "S"/"$" prefix, removes duplicates and sorts, so two lists of the same codes compare equal.
 * Rejects the whole input when any token is malformed (a half-read list could hide 5GE).
 */
export function parseOptionCodes(input: string | readonly string[]): OptionCodesParse {
  const texts = typeof input === 'string' ? [input] : input;
  const tokens = texts.flatMap((text) => String(text).split(SEPARATORS)).filter((t) => t !== '');
  const codes = new Set<string>();
  const badTokens: string[] = [];
  for (const token of tokens) {
    const code = normalizeOptionCode(token);
    if (code === undefined) badTokens.push(token);
    else codes.add(code);
  }
  if (badTokens.length > 0) {
    const listed = badTokens.map((t) => `"${t}"`).join(', ');
    return {
      ok: false,
      reason: 'malformed-option-codes',
      badTokens,
      message: `These are not option codes: ${listed}. An option code has three letters or digits, e.g. 5GE; check the vehicle order.`,
    };
  }
  return { ok: true, codes: [...codes].sort() };
}

/** One option code in canonical form, or undefined when the token is not one. */
export function normalizeOptionCode(token: string): string | undefined {
  const upper = token.trim().toUpperCase();
  if (OPTION_CODE.test(upper)) return upper;
  return PREFIXED_OPTION_CODE.exec(upper)?.[1];
}

/** Whether a list of option codes (any spelling parseOptionCodes accepts) contains `code`. */
export function hasOptionCode(codes: readonly string[], code: string): boolean {
  const wanted = normalizeOptionCode(code);
  return wanted !== undefined && codes.some((c) => normalizeOptionCode(c) === wanted);
}
