/**
 * The cloud's rule for accepting an installation report: it is about the module and car being
 * registered, it comes from the mechanic signed in at the station, and every mandatory self-test
 * passed with its measurement within limits. Every reason against is listed, so the mechanic
 * fixes everything in one go.
 */
import { canonicalModuleSerial } from '../vehicle/index.js';
import type { InstallationReport } from './installation-report.js';
import {
  INSTALLATION_SELF_TEST_IDS,
  checkMeasurement,
  selfTestDefinition,
  type MeasurementLimits,
  type SelfTestId,
  type SelfTestOutcome,
} from './self-tests.js';

export interface ReportExpectations {
  /** The module being registered (from the registration request). */
  expectedModuleSerial: string;
  /** The car it is registered to. */
  expectedVin: string;
  /** Mechanic signed in at the station that sends the report; undefined when nobody is. */
  signedInMechanicId: string | undefined;
}

export type ReportRejection =
  | { reason: 'mandatory-test-missing'; testIds: SelfTestId[]; message: string }
  | {
      reason: 'mandatory-test-not-passed';
      tests: { testId: SelfTestId; outcome: SelfTestOutcome }[];
      message: string;
    }
  | {
      reason: 'measurement-out-of-limits';
      tests: { testId: SelfTestId; measuredValue: number | null; limits: MeasurementLimits }[];
      message: string;
    }
  | { reason: 'other-module'; expected: string; found: string; message: string }
  | { reason: 'other-vehicle'; expected: string; found: string; message: string }
  | { reason: 'mechanic-not-signed-in'; message: string }
  | { reason: 'different-mechanic'; expected: string; found: string; message: string };

export type ReportRejectionReason = ReportRejection['reason'];

export type ReportAcceptance = { accepted: true } | { accepted: false; reasons: ReportRejection[] };

/** Decides on a parsed report (see parseInstallationReport). Pure; never throws. */
export function acceptInstallationReport(
  report: InstallationReport,
  expectations: ReportExpectations,
): ReportAcceptance {
  const reasons: ReportRejection[] = [];

  const expectedSerial =
    canonicalModuleSerial(expectations.expectedModuleSerial) ??
    expectations.expectedModuleSerial.trim().toUpperCase();
  if (report.moduleSerial !== expectedSerial) {
    reasons.push({
      reason: 'other-module',
      expected: expectedSerial,
      found: report.moduleSerial,
      message: `The report is for module ${report.moduleSerial}, but module ${expectedSerial} is being registered. Connect the right module and run the tests again.`,
    });
  }
  const expectedVin = expectations.expectedVin.trim().toUpperCase();
  if (report.vin !== expectedVin) {
    reasons.push({
      reason: 'other-vehicle',
      expected: expectedVin,
      found: report.vin,
      message: `The report is for the car with VIN ${report.vin}, but the module is being registered to ${expectedVin}. Check the VIN and run the tests in the right car.`,
    });
  }
  const signedIn = expectations.signedInMechanicId?.trim() ?? '';
  if (signedIn === '') {
    reasons.push({
      reason: 'mechanic-not-signed-in',
      message: 'No mechanic is signed in at this station. Sign in, then send the report again.',
    });
  } else if (report.mechanic.id !== signedIn) {
    reasons.push({
      reason: 'different-mechanic',
      expected: signedIn,
      found: report.mechanic.id,
      message: `The report names mechanic ${report.mechanic.id}, but ${signedIn} is signed in. The mechanic who did the installation must sign in and send it.`,
    });
  }

  const resultOf = new Map(report.selfTests.map((entry) => [entry.testId, entry]));
  const missing: SelfTestId[] = [];
  const notPassed: { testId: SelfTestId; outcome: SelfTestOutcome }[] = [];
  const outOfLimits: {
    testId: SelfTestId;
    measuredValue: number | null;
    limits: MeasurementLimits;
  }[] = [];
  for (const testId of INSTALLATION_SELF_TEST_IDS) {
    const entry = resultOf.get(testId);
    if (entry === undefined) {
      missing.push(testId);
    } else if (entry.outcome !== 'passed') {
      notPassed.push({ testId, outcome: entry.outcome });
    } else if (checkMeasurement(testId, entry.measuredValue) !== 'within-limits') {
      // A pass with a value outside the catalogue limits (or none) is a bug or a forged report.
      const limits = selfTestDefinition(testId)?.limits ?? {};
      outOfLimits.push({ testId, measuredValue: entry.measuredValue ?? null, limits });
    }
  }
  if (missing.length > 0) {
    reasons.push({
      reason: 'mandatory-test-missing',
      testIds: missing,
      message: `These required tests were not run: ${titles(missing)}. Run them, then send the report again.`,
    });
  }
  if (notPassed.length > 0) {
    const listed = notPassed.map((t) => `${title(t.testId)} (${t.outcome})`).join(', ');
    reasons.push({
      reason: 'mandatory-test-not-passed',
      tests: notPassed,
      message: `These required tests did not pass: ${listed}. Fix the cause shown with each test and run it again.`,
    });
  }
  if (outOfLimits.length > 0) {
    const listed = outOfLimits
      .map((t) => describeOutOfLimits(t.testId, t.measuredValue))
      .join(', ');
    reasons.push({
      reason: 'measurement-out-of-limits',
      tests: outOfLimits,
      message: `These tests are marked passed but their measurement is outside the limits: ${listed}. Run them again with the current workshop app.`,
    });
  }

  return reasons.length === 0 ? { accepted: true } : { accepted: false, reasons };
}

function title(testId: SelfTestId): string {
  return selfTestDefinition(testId)?.title ?? testId;
}

function titles(testIds: readonly SelfTestId[]): string {
  return testIds.map(title).join(', ');
}

function describeOutOfLimits(testId: SelfTestId, value: number | null): string {
  const definition = selfTestDefinition(testId);
  const unit = definition?.unit === undefined ? '' : ` ${definition.unit}`;
  const { min, max } = definition?.limits ?? {};
  const range =
    min !== undefined && max !== undefined
      ? `${min}–${max}${unit}`
      : min !== undefined
        ? `at least ${min}${unit}`
        : `at most ${max}${unit}`;
  return `${title(testId)} ${value === null ? 'not measured' : `${value}${unit}`} (allowed ${range})`;
}
