/**
 * Test vectors for installation-report handling by other implementations (the cloud in another
 * language, a test harness): `shared-protocol/vectors/diagnostics.json` is exactly what
 * `buildDiagnosticsVectors()` returns; a test keeps the two equal. Each case states its intended
 * verdict by hand and the builder throws if the implementation disagrees.
 */
import { acceptInstallationReport, type ReportExpectations } from './acceptance.js';
import { parseInstallationReport } from './installation-report.js';

// prettier-ignore
const BASE_REPORT = {
  reportVersion: 1,
  moduleSerial: 'MSM-24-001234-3',
  vin: 'WMW31DH0302S71642',
  mechanic: { id: 'mech-0042', name: 'Jana Berger' },
  dealer: { id: 'dealer-de-munich-01', name: 'MINI Autohaus München', stationId: 'station-03' },
  firmwareVersion: '1.4.0',
  startedAt: '2024-05-02T09:14:03.120Z',
  finishedAt: '2024-05-02T09:31:47.900Z',
  selfTests: [
    { testId: 'supply-voltage', outcome: 'passed', measuredValue: 13.6, detail: '13.6 V', durationMs: 120 },
    { testId: 'vehicle-bus', outcome: 'passed', measuredValue: 42, detail: 'VIN and coding read in 42 ms', durationMs: 310 },
    { testId: 'central-lock-actuation', outcome: 'passed', measuredValue: 820, detail: 'locked and unlocked', durationMs: 2400 },
    { testId: 'immobilizer-handshake', outcome: 'passed', measuredValue: 180, detail: 'released for 10 s', durationMs: 10400 },
    { testId: 'ble-radio', outcome: 'passed', measuredValue: -58, detail: 'tester at -58 dBm', durationMs: 3100 },
    { testId: 'gnss-fix', outcome: 'skipped', detail: 'no sky view in the workshop hall', durationMs: 0 },
    { testId: 'cellular-link', outcome: 'passed', measuredValue: -97, detail: 'registered, cloud reached', durationMs: 8200 },
    { testId: 'secure-storage', outcome: 'passed', detail: 'identity key signs and verifies', durationMs: 95 },
  ],
};

/** A fresh copy of the complete, accepted report the vectors start from (JSON data). */
export function sampleInstallationReportJson(): typeof BASE_REPORT {
  return structuredClone(BASE_REPORT);
}

const EXPECTATIONS: ReportExpectations = {
  expectedModuleSerial: 'MSM-24-001234-3',
  expectedVin: 'WMW31DH0302S71642',
  signedInMechanicId: 'mech-0042',
};

type Report = typeof BASE_REPORT;
type Entry = Report['selfTests'][number];

const withTest = (testId: string, change: Partial<Entry> | null) => (r: Report) => ({
  ...r,
  selfTests: r.selfTests.flatMap((t) =>
    t.testId !== testId ? [t] : change === null ? [] : [{ ...t, ...change }],
  ),
});

interface ReportCase {
  name: string;
  report: (base: Report) => unknown;
  expectations?: Partial<ReportExpectations>;
  /** Reasons the report is rejected for ([] = accepted), or 'invalid' with the error paths. */
  intent: string[] | { invalid: string[] };
}

const CASES: ReportCase[] = [
  { name: 'complete report from the signed-in mechanic', report: (r) => r, intent: [] },
  {
    name: 'optional tests may fail or be skipped',
    report: withTest('cellular-link', { outcome: 'failed', detail: 'no network' }),
    intent: [],
  },
  {
    name: 'serial and VIN in another spelling',
    report: (r) => ({ ...r, moduleSerial: 'msm240012343', vin: 'wmw31dh0302s71642' }),
    intent: [],
  },
  {
    name: 'mandatory test missing',
    report: withTest('secure-storage', null),
    intent: ['mandatory-test-missing'],
  },
  {
    name: 'mandatory test failed',
    report: withTest('central-lock-actuation', { outcome: 'failed', detail: 'no lock feedback' }),
    intent: ['mandatory-test-not-passed'],
  },
  {
    name: 'mandatory test skipped',
    report: withTest('immobilizer-handshake', { outcome: 'skipped', detail: 'ignition on' }),
    intent: ['mandatory-test-not-passed'],
  },
  {
    name: 'passed with a value outside the limits',
    report: withTest('supply-voltage', { measuredValue: 11.2 }),
    intent: ['measurement-out-of-limits'],
  },
  {
    name: 'report from another module',
    report: (r) => ({ ...r, moduleSerial: 'MSM-23-000482-5' }),
    intent: ['other-module'],
  },
  {
    name: 'report from another car',
    report: (r) => ({ ...r, vin: 'WMZ21GA0707T90415' }),
    intent: ['other-vehicle'],
  },
  {
    name: 'nobody signed in',
    report: (r) => r,
    expectations: { signedInMechanicId: undefined },
    intent: ['mechanic-not-signed-in'],
  },
  {
    name: 'another mechanic signed in',
    report: (r) => r,
    expectations: { signedInMechanicId: 'mech-0007' },
    intent: ['different-mechanic'],
  },
  {
    name: 'everything wrong at once',
    report: (r) => ({
      ...withTest('ble-radio', null)(withTest('vehicle-bus', { outcome: 'failed' })(r)),
      moduleSerial: 'MSM-23-000482-5',
      vin: 'WMZ21GA0707T90415',
    }),
    expectations: { signedInMechanicId: 'mech-0007' },
    intent: [
      'other-module',
      'other-vehicle',
      'different-mechanic',
      'mandatory-test-missing',
      'mandatory-test-not-passed',
    ],
  },
  {
    name: 'invalid: mistyped serial, bad VIN, unknown outcome',
    report: (r) => ({
      ...withTest('ble-radio', { outcome: 'ok' })(r),
      moduleSerial: 'MSM-24-001235-3',
      vin: 'WMW31DH03I2S71642',
    }),
    intent: { invalid: ['moduleSerial', 'vin', 'selfTests[4].outcome'] },
  },
  {
    name: 'invalid: finished before started, duplicate test',
    report: (r) => ({
      ...r,
      finishedAt: '2024-05-02T09:00:00Z',
      selfTests: [...r.selfTests, r.selfTests[0]],
    }),
    intent: { invalid: ['finishedAt', 'selfTests[8].testId'] },
  },
  {
    name: 'invalid: missing mechanic, wrong version',
    report: (r) => ({ ...r, reportVersion: 2, mechanic: undefined }),
    intent: { invalid: ['reportVersion', 'mechanic'] },
  },
];

/** The content of `vectors/diagnostics.json`. Pure and deterministic. */
export function buildDiagnosticsVectors() {
  return {
    description:
      'Installation report vectors: parseInstallationReport then acceptInstallationReport. Generated by buildDiagnosticsVectors() in shared-protocol/src/diagnostics/vectors.ts; do not edit by hand. Messages are left out: only verdicts, reasons and error paths are normative.',
    reportAcceptance: CASES.map(({ name, report, expectations, intent }) => {
      const input = JSON.parse(JSON.stringify(report(structuredClone(BASE_REPORT)))) as unknown;
      const expected = { ...EXPECTATIONS, ...expectations };
      const parsed = parseInstallationReport(input);
      let verdict:
        | { valid: false; errorPaths: string[] }
        | { valid: true; accepted: boolean; reasons: string[] };
      if (!parsed.ok) {
        verdict = { valid: false, errorPaths: parsed.errors.map((e) => e.path) };
      } else {
        const decision = acceptInstallationReport(parsed.report, expected);
        const reasons = decision.accepted ? [] : decision.reasons.map((r) => r.reason);
        verdict = { valid: true, accepted: decision.accepted, reasons };
      }
      const intended = Array.isArray(intent)
        ? { valid: true, accepted: intent.length === 0, reasons: intent }
        : { valid: false, errorPaths: intent.invalid };
      if (JSON.stringify(verdict) !== JSON.stringify(intended)) {
        throw new Error(`diagnostics vector "${name}": got ${JSON.stringify(verdict)}`);
      }
      return {
        name,
        report: input,
        expectations: { ...expected, signedInMechanicId: expected.signedInMechanicId ?? null },
        expected: verdict,
      };
    }),
  };
}
