import { describe, expect, it } from 'vitest';
import { SelfTestOutcome as ProtoSelfTestOutcome } from '../messages/index.js';
import {
  FAULT_CODES,
  FAULT_CODE_PATTERN,
  FAULT_TEXT_LANGUAGES,
  describeFaultCode,
  faultCodeDefinition,
} from './fault-codes.js';
import {
  DEFAULT_SELF_TEST_IDS,
  INSTALLATION_SELF_TEST_IDS,
  SELF_TESTS,
  SELF_TEST_IDS,
  SELF_TEST_OUTCOMES,
  checkMeasurement,
  selfTestOutcomeFromProto,
  selfTestOutcomeToProto,
  selfTestsNeedAuthorization,
} from './self-tests.js';

describe('self-test catalogue', () => {
  it('has one entry per id, in the order of SELF_TEST_IDS', () => {
    expect(SELF_TESTS.map((t) => t.id)).toEqual([...SELF_TEST_IDS]);
    expect(new Set(SELF_TEST_IDS).size).toBe(SELF_TEST_IDS.length);
  });

  it('uses ids that fit the service link and the report (lower-case words and dashes)', () => {
    for (const id of SELF_TEST_IDS) expect(id).toMatch(/^[a-z0-9][a-z0-9-]{0,63}$/);
  });

  it('gives every measured test a unit and sane limits, and pass/fail tests neither', () => {
    for (const test of SELF_TESTS) {
      expect(test.title).not.toBe('');
      expect(test.checks).not.toBe('');
      expect(test.unit === undefined).toBe(test.limits === undefined);
      const { min, max } = test.limits ?? {};
      if (min !== undefined && max !== undefined) expect(min).toBeLessThan(max);
      if (test.limits !== undefined) expect(min !== undefined || max !== undefined).toBe(true);
    }
  });

  it('marks exactly the lock and immobilizer tests as actuating', () => {
    expect(SELF_TESTS.filter((t) => t.actuatesCar).map((t) => t.id)).toEqual([
      'central-lock-actuation',
      'immobilizer-handshake',
    ]);
    for (const test of SELF_TESTS.filter((t) => t.actuatesCar)) {
      expect(test.preconditions).toContain('Ignition off');
    }
  });

  it('requires at installation everything but GNSS and the mobile network', () => {
    expect([...INSTALLATION_SELF_TEST_IDS].sort()).toEqual(
      SELF_TEST_IDS.filter((id) => id !== 'gnss-fix' && id !== 'cellular-link').sort(),
    );
  });

  it('never moves the car for an empty request (the default set)', () => {
    expect(DEFAULT_SELF_TEST_IDS).not.toContain('central-lock-actuation');
    expect(DEFAULT_SELF_TEST_IDS).not.toContain('immobilizer-handshake');
    expect(selfTestsNeedAuthorization(DEFAULT_SELF_TEST_IDS)).toBe(false);
  });

  it('needs a service authorization for actuating or unknown tests', () => {
    expect(selfTestsNeedAuthorization(['supply-voltage', 'ble-radio'])).toBe(false);
    expect(selfTestsNeedAuthorization(['supply-voltage', 'central-lock-actuation'])).toBe(true);
    expect(selfTestsNeedAuthorization(['open-sunroof'])).toBe(true);
  });

  it('checks measurements against limits, inclusive', () => {
    expect(checkMeasurement('supply-voltage', 12.0)).toBe('within-limits');
    expect(checkMeasurement('supply-voltage', 11.99)).toBe('below-min');
    expect(checkMeasurement('supply-voltage', 15.01)).toBe('above-max');
    expect(checkMeasurement('supply-voltage', undefined)).toBe('not-measured');
    expect(checkMeasurement('supply-voltage', Number.NaN)).toBe('not-measured');
    expect(checkMeasurement('ble-radio', -20)).toBe('within-limits');
    expect(checkMeasurement('secure-storage', undefined)).toBe('within-limits');
  });

  it('maps outcomes to and from the service-link enum', () => {
    for (const outcome of SELF_TEST_OUTCOMES) {
      expect(selfTestOutcomeFromProto(selfTestOutcomeToProto(outcome))).toBe(outcome);
    }
    expect(selfTestOutcomeFromProto(ProtoSelfTestOutcome.UNSPECIFIED)).toBeUndefined();
    expect(selfTestOutcomeFromProto(99 as ProtoSelfTestOutcome)).toBeUndefined();
  });
});

describe('fault code catalogue', () => {
  it('has unique, DTC-shaped codes', () => {
    const codes = FAULT_CODES.map((f) => f.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(FAULT_CODE_PATTERN);
  });

  it('has text and advice in English and German for every code', () => {
    for (const fault of FAULT_CODES) {
      for (const language of FAULT_TEXT_LANGUAGES) {
        expect(fault.text[language].trim(), `${fault.code} text.${language}`).not.toBe('');
        expect(fault.check[language].trim(), `${fault.code} check.${language}`).not.toBe('');
      }
      expect(fault.text.de, `${fault.code} is translated`).not.toBe(fault.text.en);
      expect(fault.check.de, `${fault.code} is translated`).not.toBe(fault.check.en);
    }
  });

  it('links faults only to catalogued self-tests, and every self-test to a fault', () => {
    const linked = new Set(FAULT_CODES.map((f) => f.selfTestId).filter((id) => id !== undefined));
    for (const id of linked) expect(SELF_TEST_IDS).toContain(id);
    for (const id of SELF_TEST_IDS) expect(linked.has(id), id).toBe(true);
  });

  it('describes known codes in either language, in any case', () => {
    expect(faultCodeDefinition('b1c42')?.code).toBe('B1C42');
    expect(describeFaultCode('B1C42', 'de')).toMatchObject({
      severity: 'warning',
      text: expect.stringContaining('Bluetooth') as unknown,
    });
  });

  it('describes codes newer than this software instead of failing', () => {
    expect(describeFaultCode('B1CFF', 'en')).toEqual({
      severity: undefined,
      text: 'Unknown fault code B1CFF.',
      check: 'Update the workshop app to see what it means and what to check.',
    });
    expect(describeFaultCode('B1CFF', 'de').text).toBe('Unbekannter Fehlercode B1CFF.');
    expect(describeFaultCode('<script>', 'en').text).toBe('Unknown fault code (malformed).');
  });
});
