/**
 * Test vectors for other implementations of the vehicle rules (the module firmware, a C team):
 * `shared-protocol/vectors/vehicle.json` is exactly what `buildVehicleVectors()` returns, and a
 * test keeps the two equal. Each case states its intended verdict by hand; the builder throws if
 * the implementation disagrees, so the file can never silently record a bug.
 */
import { checkEligibility, type EligibilityInput } from './eligibility.js';
import { validateModuleSerial } from './module-serial.js';
import { parseOptionCodes } from './option-codes.js';
import { validateVin, type VinOptions } from './vin.js';

interface Intent {
  name: string;
  /** `true` for a valid input, or the reason it is rejected. */
  intent: true | string;
}

const VIN_CASES: (Intent & { input: string; options?: VinOptions })[] = [
  { name: 'EU MINI, check digit not checked', input: 'WMW31DH0302S71642', intent: true },
  { name: 'EU MINI, trimmed and upper-cased', input: '  wmw31dh0302s71642 ', intent: true },
  { name: 'MINI Countryman WMI', input: 'WMZ21GA0707T90415', intent: true },
  { name: 'unknown WMI is valid', input: 'VF1RFB00X63512345', intent: true },
  {
    name: 'US-market MINI, check digit required by market',
    input: 'WMW53DH05P2T41785',
    options: { market: 'US' },
    intent: true,
  },
  {
    name: 'EU VIN in the US market, wrong check digit',
    input: 'WMW31DH0302S71642',
    options: { market: 'US' },
    intent: 'check-digit-mismatch',
  },
  { name: 'North American BMW, check digit X', input: '5UXTY5C0XR9U31709', intent: true },
  { name: 'ISO 3779 textbook VIN, check digit X', input: '1M8GDM9AXKP042788', intent: true },
  { name: 'North American, no model year code', input: '1M8GDM9A6UP042788', intent: true },
  {
    name: 'North American, wrong check digit',
    input: '5UXTY5C05R9U31709',
    intent: 'check-digit-mismatch',
  },
  {
    name: 'North American, one character mistyped',
    input: '5UXTY5C0XR9U31708',
    intent: 'check-digit-mismatch',
  },
  { name: 'letter I', input: 'WMW31DH03I2S71642', intent: 'invalid-character' },
  { name: 'letter O', input: 'WMW31DH0302S7164O', intent: 'invalid-character' },
  { name: 'letter Q', input: 'QMW31DH0302S71642', intent: 'invalid-character' },
  { name: 'dash inside', input: 'WMW-31DH0302S7164', intent: 'invalid-character' },
  { name: 'non-ASCII letter', input: 'WMW31DH0302S7164Ä', intent: 'invalid-character' },
  { name: 'empty', input: '', intent: 'wrong-length' },
  { name: '16 characters', input: 'WMW31DH0302S7164', intent: 'wrong-length' },
  { name: '18 characters', input: 'WMW31DH0302S716420', intent: 'wrong-length' },
];

const SERIAL_CASES: (Intent & { input: string })[] = [
  { name: 'canonical', input: 'MSM-24-001234-3', intent: true },
  { name: 'lower case, no dashes', input: 'msm240012343', intent: true },
  { name: 'without prefix, spaces', input: '24 001234 3', intent: true },
  { name: 'check character X', input: 'MSM-24-005018-X', intent: true },
  { name: 'one digit mistyped', input: 'MSM-24-001235-3', intent: 'check-character-mismatch' },
  { name: 'two digits swapped', input: 'MSM-24-001243-3', intent: 'check-character-mismatch' },
  { name: 'letter O for zero', input: 'MSM-24-OO1234-3', intent: 'wrong-format' },
  { name: 'too short', input: 'MSM-24-01234-3', intent: 'wrong-format' },
  { name: 'other prefix', input: 'ABC-24-001234-3', intent: 'wrong-format' },
];

const OPTION_CODE_CASES: (Intent & { input: string })[] = [
  { name: 'separators, case, duplicates', input: '5GE, 6ac;534 5ge', intent: true },
  { name: 'printout and coding prefixes', input: 'S5GE $6AC', intent: true },
  { name: 'empty', input: '', intent: true },
  { name: 'malformed tokens', input: '5G, 6ACX, 534, 5-GE', intent: 'malformed-option-codes' },
];

// prettier-ignore
const ELIGIBILITY_CASES: (Intent & { input: EligibilityInput; reasons?: string[] })[] = [
  {
    name: 'eligible',
    input: { orderOptionCodes: ['5GE', '6AC'], carCodedOptionCodes: ['6AC', '5GE'], moduleInstalledByDealer: true },
    intent: true,
  },
  {
    name: 'no 5GE anywhere',
    input: { orderOptionCodes: ['6AC'], carCodedOptionCodes: ['6AC'], moduleInstalledByDealer: true },
    intent: 'not-eligible',
    reasons: ['no-5ge-in-order', 'no-5ge-in-car-coding'],
  },
  {
    name: 'car not coded',
    input: { orderOptionCodes: ['5GE'], carCodedOptionCodes: ['6AC'], moduleInstalledByDealer: true },
    intent: 'not-eligible',
    reasons: ['no-5ge-in-car-coding', 'order-and-car-disagree'],
  },
  {
    name: 'order without 5GE, car coded',
    input: { orderOptionCodes: [], carCodedOptionCodes: ['5GE'], moduleInstalledByDealer: true },
    intent: 'not-eligible',
    reasons: ['no-5ge-in-order', 'order-and-car-disagree'],
  },
  {
    name: 'car coding not read yet',
    input: { orderOptionCodes: ['5GE'], moduleInstalledByDealer: true },
    intent: 'not-eligible',
    reasons: ['car-coding-not-read'],
  },
  {
    name: 'module not installed by a dealer',
    input: { orderOptionCodes: ['5GE'], carCodedOptionCodes: ['5GE'], moduleInstalledByDealer: false },
    intent: 'not-eligible',
    reasons: ['no-dealer-installed-module'],
  },
];

/** The content of `vectors/vehicle.json`. Pure and deterministic. */
export function buildVehicleVectors() {
  return {
    description:
      'Vehicle rule vectors. Generated by buildVehicleVectors() in shared-protocol/src/vehicle/vectors.ts; do not edit by hand. Messages are left out: only verdicts and facts are normative.',
    vin: VIN_CASES.map(({ name, input, options, intent }) => {
      const result = validateVin(input, options);
      const verdict = result.ok ? true : result.reason;
      expectIntent('vin', name, intent, verdict);
      const expected = result.ok
        ? {
            ok: true,
            vin: result.vin,
            wmi: result.wmi,
            brand: result.manufacturer?.brand ?? null,
            region: result.region ?? null,
            checkDigitVerified: result.checkDigitVerified,
            modelYear: result.modelYear ?? null,
          }
        : withoutMessage(result);
      return { name, input, market: options?.market ?? null, expected };
    }),
    moduleSerial: SERIAL_CASES.map(({ name, input, intent }) => {
      const result = validateModuleSerial(input);
      expectIntent('moduleSerial', name, intent, result.ok ? true : result.reason);
      return { name, input, expected: withoutMessage(result) };
    }),
    optionCodes: OPTION_CODE_CASES.map(({ name, input, intent }) => {
      const result = parseOptionCodes(input);
      expectIntent('optionCodes', name, intent, result.ok ? true : result.reason);
      return { name, input, expected: withoutMessage(result) };
    }),
    eligibility: ELIGIBILITY_CASES.map(({ name, input, intent, reasons }) => {
      const result = checkEligibility(input);
      const found = result.eligible ? [] : result.reasons.map((r) => r.reason);
      expectIntent('eligibility', name, intent, result.eligible ? true : 'not-eligible');
      if (JSON.stringify(found) !== JSON.stringify(reasons ?? [])) {
        throw new Error(`eligibility vector "${name}": reasons ${found.join(', ')}`);
      }
      return {
        name,
        input: {
          orderOptionCodes: input.orderOptionCodes,
          carCodedOptionCodes: input.carCodedOptionCodes ?? null,
          moduleInstalledByDealer: input.moduleInstalledByDealer,
        },
        expected: { eligible: result.eligible, reasons: found },
      };
    }),
  };
}

function expectIntent(kind: string, name: string, intent: true | string, found: true | string) {
  if (intent !== found) {
    throw new Error(`${kind} vector "${name}": intended ${String(intent)}, got ${String(found)}`);
  }
}

function withoutMessage<T extends object>(result: T): Omit<T, 'message'> {
  const { message: _message, ...rest } = result as T & { message?: string };
  return rest;
}
