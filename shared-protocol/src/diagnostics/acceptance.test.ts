import { describe, expect, it } from 'vitest';
import { acceptInstallationReport, type ReportExpectations } from './acceptance.js';
import { parseInstallationReport, type InstallationReport } from './installation-report.js';
import { sampleInstallationReportJson } from './vectors.js';

const expectations: ReportExpectations = {
  expectedModuleSerial: 'MSM-24-001234-3',
  expectedVin: 'WMW31DH0302S71642',
  signedInMechanicId: 'mech-0042',
};

function report(
  change: (raw: ReturnType<typeof sampleInstallationReportJson>) => void = () => {},
): InstallationReport {
  const raw = sampleInstallationReportJson();
  change(raw);
  const parsed = parseInstallationReport(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.report;
}

function setTest(testId: string, fields: Record<string, unknown> | null) {
  return (raw: ReturnType<typeof sampleInstallationReportJson>) => {
    const index = raw.selfTests.findIndex((t) => t.testId === testId);
    if (fields === null) raw.selfTests.splice(index, 1);
    else Object.assign(raw.selfTests[index] ?? {}, fields);
  };
}

describe('acceptInstallationReport', () => {
  it('accepts a complete report for the expected module and car from the signed-in mechanic', () => {
    expect(acceptInstallationReport(report(), expectations)).toEqual({ accepted: true });
  });

  it('compares serial and VIN in canonical form', () => {
    const result = acceptInstallationReport(report(), {
      ...expectations,
      expectedModuleSerial: 'msm240012343',
      expectedVin: ' wmw31dh0302s71642 ',
    });
    expect(result).toEqual({ accepted: true });
  });

  it('does not require the optional tests', () => {
    const result = acceptInstallationReport(
      report((raw) => {
        setTest('gnss-fix', null)(raw);
        setTest('cellular-link', { outcome: 'failed', detail: 'no network' })(raw);
      }),
      expectations,
    );
    expect(result).toEqual({ accepted: true });
  });

  it('mandatory-test-missing names the missing tests', () => {
    const result = acceptInstallationReport(
      report((raw) => {
        setTest('secure-storage', null)(raw);
        setTest('vehicle-bus', null)(raw);
      }),
      expectations,
    );
    expect(result).toMatchObject({
      accepted: false,
      reasons: [{ reason: 'mandatory-test-missing', testIds: ['vehicle-bus', 'secure-storage'] }],
    });
    if (!result.accepted)
      expect(result.reasons[0]?.message).toContain('Vehicle connection, Secure key storage');
  });

  it('mandatory-test-not-passed names failed and skipped tests with their outcome', () => {
    const result = acceptInstallationReport(
      report((raw) => {
        setTest('central-lock-actuation', { outcome: 'failed' })(raw);
        setTest('immobilizer-handshake', { outcome: 'skipped' })(raw);
      }),
      expectations,
    );
    expect(result).toMatchObject({
      accepted: false,
      reasons: [
        {
          reason: 'mandatory-test-not-passed',
          tests: [
            { testId: 'central-lock-actuation', outcome: 'failed' },
            { testId: 'immobilizer-handshake', outcome: 'skipped' },
          ],
        },
      ],
    });
    if (!result.accepted) expect(result.reasons[0]?.message).toContain('Central locking (failed)');
  });

  it('measurement-out-of-limits for a pass outside the limits or without a value', () => {
    const result = acceptInstallationReport(
      report((raw) => {
        setTest('supply-voltage', { measuredValue: 11.2 })(raw);
        setTest('ble-radio', { measuredValue: undefined })(raw);
      }),
      expectations,
    );
    expect(result).toMatchObject({
      accepted: false,
      reasons: [
        {
          reason: 'measurement-out-of-limits',
          tests: [
            { testId: 'supply-voltage', measuredValue: 11.2, limits: { min: 12, max: 15 } },
            { testId: 'ble-radio', measuredValue: null, limits: { min: -75 } },
          ],
        },
      ],
    });
    if (!result.accepted) {
      expect(result.reasons[0]?.message).toContain('Supply voltage 11.2 V (allowed 12–15 V)');
      expect(result.reasons[0]?.message).toContain(
        'Bluetooth not measured (allowed at least -75 dBm)',
      );
    }
  });

  it('other-module', () => {
    const result = acceptInstallationReport(report(), {
      ...expectations,
      expectedModuleSerial: 'MSM-23-000482-5',
    });
    expect(result).toMatchObject({
      accepted: false,
      reasons: [{ reason: 'other-module', expected: 'MSM-23-000482-5', found: 'MSM-24-001234-3' }],
    });
  });

  it('other-vehicle', () => {
    const result = acceptInstallationReport(report(), {
      ...expectations,
      expectedVin: 'WMZ21GA0707T90415',
    });
    expect(result).toMatchObject({
      accepted: false,
      reasons: [
        { reason: 'other-vehicle', expected: 'WMZ21GA0707T90415', found: 'WMW31DH0302S71642' },
      ],
    });
  });

  it.each([undefined, '', '   '])('mechanic-not-signed-in (%j)', (signedInMechanicId) => {
    const result = acceptInstallationReport(report(), { ...expectations, signedInMechanicId });
    expect(result).toMatchObject({
      accepted: false,
      reasons: [{ reason: 'mechanic-not-signed-in' }],
    });
  });

  it('different-mechanic', () => {
    const result = acceptInstallationReport(report(), {
      ...expectations,
      signedInMechanicId: 'mech-0007',
    });
    expect(result).toMatchObject({
      accepted: false,
      reasons: [{ reason: 'different-mechanic', expected: 'mech-0007', found: 'mech-0042' }],
    });
  });

  it('lists every reason at once, each with a message', () => {
    const result = acceptInstallationReport(report(setTest('ble-radio', { outcome: 'failed' })), {
      expectedModuleSerial: 'MSM-23-000482-5',
      expectedVin: 'WMZ21GA0707T90415',
      signedInMechanicId: undefined,
    });
    expect(result.accepted ? [] : result.reasons.map((r) => r.reason)).toEqual([
      'other-module',
      'other-vehicle',
      'mechanic-not-signed-in',
      'mandatory-test-not-passed',
    ]);
    if (!result.accepted)
      for (const r of result.reasons) expect(r.message.length).toBeGreaterThan(30);
  });
});
