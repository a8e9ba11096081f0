import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReportInputError, parseInstallationReport } from './installation-report.js';
import { sampleInstallationReportJson } from './vectors.js';

function errorsOf(input: unknown): string[] {
  const result = parseInstallationReport(input);
  return result.ok ? [] : result.errors.map(formatReportInputError);
}

describe('parseInstallationReport', () => {
  it('reads a complete report from JSON text and normalises serial and VIN', () => {
    const raw = {
      ...sampleInstallationReportJson(),
      moduleSerial: 'msm 24 001234 3',
      vin: ' wmw31dh0302s71642',
    };
    const result = parseInstallationReport(JSON.stringify(raw));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.report.moduleSerial).toBe('MSM-24-001234-3');
    expect(result.report.vin).toBe('WMW31DH0302S71642');
    expect(result.report.selfTests).toHaveLength(8);
    expect(result.report.selfTests[5]).toEqual({
      testId: 'gnss-fix',
      outcome: 'skipped',
      detail: 'no sky view in the workshop hall',
      durationMs: 0,
    });
  });

  it('keeps the unit, the limits and the fault code the module reported, checked', () => {
    const raw = sampleInstallationReportJson() as Record<string, unknown>;
    const tests = raw.selfTests as Record<string, unknown>[];
    Object.assign(tests[0] ?? {}, { unit: 'V', limitMin: 12, limitMax: 15 });
    Object.assign(tests[1] ?? {}, { faultCode: 'U1C60', limitMax: 200, unit: 'ms' });
    const result = parseInstallationReport(raw);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.report.selfTests[0]).toMatchObject({ unit: 'V', limitMin: 12, limitMax: 15 });
    expect(result.report.selfTests[1]).toMatchObject({
      unit: 'ms',
      limitMax: 200,
      faultCode: 'U1C60',
    });
    expect(result.report.selfTests[1]).not.toHaveProperty('limitMin');

    Object.assign(tests[0] ?? {}, { limitMin: 15, limitMax: 12, unit: '' });
    Object.assign(tests[1] ?? {}, { faultCode: 'X1234', limitMax: Number.POSITIVE_INFINITY });
    expect(errorsOf(raw)).toEqual([
      'selfTests[0].limitMax: is below limitMin (15)',
      'selfTests[0].unit: must not be empty',
      'selfTests[1].limitMax: must be a finite number, is null',
      'selfTests[1].faultCode: must be a fault code like "U1C60", is "X1234"',
    ]);
  });

  it('ignores properties it does not know (a newer workshop app may send more)', () => {
    const raw = { ...sampleInstallationReportJson(), odometerKm: 1200 };
    const result = parseInstallationReport(raw);
    expect(result.ok && 'odometerKm' in result.report).toBe(false);
  });

  it('rejects what is not a report, without throwing', () => {
    expect(errorsOf('{')[0]).toMatch(/^report: not valid JSON/);
    expect(errorsOf(null)).toEqual(['report: must be a JSON object, is null']);
    expect(errorsOf([1])).toEqual(['report: must be a JSON object, is an array']);
  });

  it('lists every bad field with its path', () => {
    const raw = sampleInstallationReportJson() as Record<string, unknown>;
    const tests = raw.selfTests as Record<string, unknown>[];
    Object.assign(tests[0] ?? {}, { measuredValue: 'high', durationMs: -1 });
    Object.assign(tests[1] ?? {}, { testId: 'Vehicle Bus', detail: 7 });
    Object.assign(raw, {
      reportVersion: '1',
      moduleSerial: 'MSM-24-001235-3',
      vin: 'WMW31DH0302S7164',
      mechanic: { id: '  ', name: 'x'.repeat(201) },
      dealer: 'Autohaus',
      firmwareVersion: 'v1.4',
      startedAt: '2024-02-30T10:00:00Z',
      finishedAt: '2024-05-02 09:31',
    });
    expect(errorsOf(raw)).toEqual([
      'reportVersion: must be 1, is "1"',
      'moduleSerial: not a valid module serial (check-character-mismatch)',
      'vin: not a valid VIN (wrong-length)',
      'mechanic.id: must not be empty',
      'mechanic.name: is 201 characters long, at most 200 allowed',
      'dealer: must be an object, is a string',
      'firmwareVersion: must be a semantic version like 1.4.0, is "v1.4"',
      'startedAt: must be an ISO 8601 UTC time like 2024-05-02T09:14:03Z, is "2024-02-30T10:00:00Z"',
      'finishedAt: must be an ISO 8601 UTC time like 2024-05-02T09:14:03Z, is "2024-05-02 09:31"',
      'selfTests[0].measuredValue: must be a finite number, is "high"',
      'selfTests[0].durationMs: must be a whole number of milliseconds, is -1',
      'selfTests[1].testId: must be a test id like "supply-voltage", is "Vehicle Bus"',
      'selfTests[1].detail: must be a string, is a number',
    ]);
  });

  it('rejects a report that finishes before it starts, duplicates and too many tests', () => {
    const raw = sampleInstallationReportJson();
    expect(errorsOf({ ...raw, finishedAt: '2024-05-02T09:14:03.119Z' })).toEqual([
      'finishedAt: is before startedAt (2024-05-02T09:14:03.120Z)',
    ]);
    expect(errorsOf({ ...raw, selfTests: [...raw.selfTests, raw.selfTests[2]] })).toEqual([
      'selfTests[8].testId: duplicate of selfTests[2]',
    ]);
    const many = Array.from({ length: 65 }, (_, i) => ({
      testId: `t${i}`,
      outcome: 'passed',
      detail: '',
    }));
    expect(errorsOf({ ...raw, selfTests: many })).toEqual([
      'selfTests: has 65 entries, at most 64 allowed',
    ]);
  });

  it('never throws, whatever arrives', () => {
    const base = sampleInstallationReportJson() as Record<string, unknown>;
    const keys = Object.keys(base);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.string(),
          fc
            .tuple(fc.constantFrom(...keys), fc.anything())
            .map(([key, value]) => ({ ...base, [key]: value })),
          fc
            .tuple(
              fc.nat(7),
              fc.constantFrom('testId', 'outcome', 'measuredValue', 'detail', 'durationMs'),
              fc.anything(),
            )
            .map(([i, key, value]) => {
              const copy = sampleInstallationReportJson() as {
                selfTests: Record<string, unknown>[];
              };
              Object.assign(copy.selfTests[i] ?? {}, { [key]: value });
              return copy;
            }),
        ),
        (input) => {
          expect(typeof parseInstallationReport(input).ok).toBe('boolean');
        },
      ),
    );
  });
});
