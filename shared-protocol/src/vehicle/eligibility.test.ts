import { describe, expect, it } from 'vitest';
import { checkEligibility, type IneligibilityReason } from './eligibility.js';
import { SHARING_OPTION_CODE, hasOptionCode, parseOptionCodes } from './option-codes.js';

describe('parseOptionCodes', () => {
  it('splits on commas, semicolons and spaces, upper-cases, dedupes and sorts', () => {
    expect(parseOptionCodes('5GE, 6ac;534  5ge\n2VB')).toEqual({
      ok: true,
      codes: ['2VB', '534', '5GE', '6AC'],
    });
  });

  it('takes a list, each entry possibly holding several codes', () => {
    expect(parseOptionCodes(['5GE', ' 6AC ; 534', ''])).toEqual({
      ok: true,
      codes: ['534', '5GE', '6AC'],
    });
  });

  it('strips the S and $ prefixes of printouts and coding', () => {
    expect(parseOptionCodes('S5GE $6AC 205')).toEqual({ ok: true, codes: ['205', '5GE', '6AC'] });
  });

  it('accepts nothing as no codes', () => {
    expect(parseOptionCodes('')).toEqual({ ok: true, codes: [] });
    expect(parseOptionCodes([])).toEqual({ ok: true, codes: [] });
  });

  it('rejects the whole list and names every malformed token', () => {
    const result = parseOptionCodes('5G, 6ACX, 534, 5-GE, X5GE');
    expect(result).toMatchObject({
      ok: false,
      reason: 'malformed-option-codes',
      badTokens: ['5G', '6ACX', '5-GE', 'X5GE'],
    });
    if (!result.ok) expect(result.message).toContain('"5G", "6ACX", "5-GE", "X5GE"');
  });

  it('finds 5GE in any accepted spelling', () => {
    expect(SHARING_OPTION_CODE).toBe('5GE');
    expect(hasOptionCode(['6AC', ' 5ge'], '5GE')).toBe(true);
    expect(hasOptionCode(['S5GE'], '5GE')).toBe(true);
    expect(hasOptionCode(['6AC'], '5GE')).toBe(false);
  });
});

describe('checkEligibility', () => {
  const reasonsOf = (result: ReturnType<typeof checkEligibility>): IneligibilityReason[] =>
    result.eligible ? [] : result.reasons.map((r) => r.reason);

  it('is eligible with 5GE in the order and in the car, and a dealer-installed module', () => {
    expect(
      checkEligibility({
        orderOptionCodes: ['6AC', '5GE'],
        carCodedOptionCodes: ['$5GE'],
        moduleInstalledByDealer: true,
      }),
    ).toEqual({ eligible: true });
  });

  it('no-5ge-in-order', () => {
    const result = checkEligibility({
      orderOptionCodes: ['6AC'],
      carCodedOptionCodes: ['6AC'],
      moduleInstalledByDealer: true,
    });
    expect(reasonsOf(result)).toEqual(['no-5ge-in-order', 'no-5ge-in-car-coding']);
  });

  it('no-5ge-in-car-coding, and the order disagrees with the car', () => {
    const result = checkEligibility({
      orderOptionCodes: ['5GE'],
      carCodedOptionCodes: [],
      moduleInstalledByDealer: true,
    });
    expect(reasonsOf(result)).toEqual(['no-5ge-in-car-coding', 'order-and-car-disagree']);
  });

  it('order-and-car-disagree when only the car has 5GE', () => {
    const result = checkEligibility({
      orderOptionCodes: [],
      carCodedOptionCodes: ['5GE'],
      moduleInstalledByDealer: true,
    });
    expect(reasonsOf(result)).toEqual(['no-5ge-in-order', 'order-and-car-disagree']);
  });

  it('never eligible on the order alone: car-coding-not-read', () => {
    const result = checkEligibility({ orderOptionCodes: ['5GE'], moduleInstalledByDealer: true });
    expect(reasonsOf(result)).toEqual(['car-coding-not-read']);
  });

  it('no-dealer-installed-module', () => {
    const result = checkEligibility({
      orderOptionCodes: ['5GE'],
      carCodedOptionCodes: ['5GE'],
      moduleInstalledByDealer: false,
    });
    expect(reasonsOf(result)).toEqual(['no-dealer-installed-module']);
  });

  it('lists every reason with a sentence a mechanic can act on', () => {
    const result = checkEligibility({ orderOptionCodes: [], moduleInstalledByDealer: false });
    expect(reasonsOf(result)).toEqual([
      'no-5ge-in-order',
      'car-coding-not-read',
      'no-dealer-installed-module',
    ]);
    if (result.eligible) return;
    for (const { message } of result.reasons) expect(message.length).toBeGreaterThan(40);
  });
});
