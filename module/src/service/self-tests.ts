/**
 * `self_test_run` (PROTOCOL.md section 14 "Self-tests"): runs the requested tests of the
 * catalogue (empty: DEFAULT_SELF_TEST_IDS, none of which moves the car) one after another, with a
 * Progress event per test, and stores what they found in the fault memory: a failure stores its
 * fault code (active); the test's other codes, which it looked for and did not find, are marked
 * no longer active. A test that was skipped or could not run changes nothing stored but its code.
 *
 * A request naming an id this firmware does not know is refused with BAD_REQUEST before anything
 * runs. On a provisioned module the AuthorizationGuard has already asked for
 * ACTUATING_SELF_TEST when a test moves the car (and for unknown ids: fail closed). One run at a
 * time (BUSY): two runs would fight over the locks. A cancel stops before the next test.
 *
 * Each result carries the measured value, its unit and limits and the stored fault code as fields,
 * and `detail` says the same in words for the mechanic: "<value> <unit> (limits …); <what was
 * found>; fault <code> stored".
 */
import {
  DEFAULT_SELF_TEST_IDS,
  isSelfTestId,
  selfTestDefinition,
  selfTestOutcomeToProto,
  type MeasurementLimits,
  type MeasurementUnit,
  type SelfTestId,
  type SelfTestOutcome,
} from '@mini-sharing/shared-protocol/diagnostics';
import { ErrorCode, Operation } from '@mini-sharing/shared-protocol/messages';
import {
  ServiceError,
  clipText,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import type { ModuleHal } from '../hal/index.js';
import { faultCodesOfTest, type FaultMemory } from './fault-codes.js';
import type { IdentityStore } from './identity.js';
import type { ModuleLog } from './module-log.js';
import { FAULT_WHEN_UNANSWERED, SELF_TEST_CHECKS, type CheckContext } from './self-tests-checks.js';

export interface SelfTestReport {
  testId: SelfTestId;
  outcome: SelfTestOutcome;
  value?: number;
  unit?: MeasurementUnit;
  limits?: MeasurementLimits;
  /** What was found, in words a technician can act on. */
  note: string;
  /** The fault code this result stored (failures only). */
  faultCode?: string;
  durationMs: number;
  /** The text SelfTestResult.detail carries. */
  detail: string;
}

export interface SelfTestServiceOptions {
  hal: CheckContext['hal'] & Pick<ModuleHal, 'vehicle'>;
  identity: IdentityStore;
  faults: FaultMemory;
  log: ModuleLog;
  moduleSerial: string;
  /** Monotonic ms for measured times; default performance.now. */
  elapsedMs?: () => number;
  /** How long the GNSS test waits for a fix (default 5 s) and how often it asks (500 ms). */
  gnssFixWaitMs?: number;
  gnssPollMs?: number;
}

export interface SelfTestService {
  handlers: Required<Pick<RequestHandlers, 'selfTestRun'>>;
  /** True while a run is in progress (a factory reset waits for no one: it answers BUSY). */
  readonly running: boolean;
  /** Runs tests as the handler does (ids already checked), for callers inside the module. */
  run(ids: readonly SelfTestId[], signal?: AbortSignal): Promise<SelfTestReport[]>;
}

const DECIMALS: Record<MeasurementUnit, number> = { V: 2, ms: 0, s: 1, dBm: 0 };

function formatValue(value: number, unit: MeasurementUnit): string {
  return `${value.toFixed(DECIMALS[unit])} ${unit}`;
}

function formatLimits(limits: MeasurementLimits, unit: MeasurementUnit): string {
  const digits = unit === 'V' ? 1 : 0;
  const { min, max } = limits;
  if (min !== undefined && max !== undefined) {
    return `limits ${min.toFixed(digits)}–${max.toFixed(digits)} ${unit}`;
  }
  if (min !== undefined) return `limit ≥ ${min.toFixed(digits)} ${unit}`;
  if (max !== undefined) return `limit ≤ ${max.toFixed(digits)} ${unit}`;
  return '';
}

export function formatDetail(report: Omit<SelfTestReport, 'detail'>): string {
  const parts: string[] = [];
  if (report.value !== undefined && report.unit !== undefined) {
    const limits = report.limits && formatLimits(report.limits, report.unit);
    parts.push(`${formatValue(report.value, report.unit)}${limits ? ` (${limits})` : ''}`);
  }
  if (report.note !== '') parts.push(report.note);
  if (report.faultCode !== undefined) parts.push(`fault ${report.faultCode} stored`);
  return parts.join('; ');
}

/** Unknown ids a refusal names (clipped to MAX_ID_LENGTH characters each). */
const MAX_IDS_NAMED = 8;
const MAX_ID_LENGTH = 40;

/** The ids a request names, checked: unknown ids refuse the whole request. */
export function requestedTests(testIds: readonly string[]): SelfTestId[] {
  if (testIds.length === 0) return [...DEFAULT_SELF_TEST_IDS];
  const unknown = testIds.filter((id) => !isSelfTestId(id));
  if (unknown.length > 0) {
    // Named back clipped: the answer must fit in one frame whatever the host sent.
    const named = unknown.slice(0, MAX_IDS_NAMED).map((id) => clipText(id, MAX_ID_LENGTH));
    const more =
      unknown.length > MAX_IDS_NAMED ? ` and ${unknown.length - MAX_IDS_NAMED} more` : '';
    throw new ServiceError(
      ErrorCode.BAD_REQUEST,
      `Unknown self-test ${unknown.length === 1 ? 'id' : 'ids'} ${named.map((id) => JSON.stringify(id)).join(', ')}${more}: nothing was run (update the module's firmware, or ask for known tests)`,
      { unknownTestIds: named.join(',') },
    );
  }
  return [...new Set(testIds as SelfTestId[])];
}

export function createSelfTestService(options: SelfTestServiceOptions): SelfTestService {
  const elapsedMs = options.elapsedMs ?? (() => performance.now());
  let running = false;

  /** `checked`: the test ran to its verdict (it looked for all its faults). */
  async function runOne(
    id: SelfTestId,
    signal: AbortSignal,
  ): Promise<{ report: SelfTestReport; checked: boolean }> {
    const definition = selfTestDefinition(id);
    const context: CheckContext = {
      hal: options.hal,
      identity: options.identity,
      moduleSerial: options.moduleSerial,
      elapsedMs,
      gnssFixWaitMs: options.gnssFixWaitMs ?? 5000,
      gnssPollMs: options.gnssPollMs ?? 500,
      signal,
    };
    const start = elapsedMs();
    let result;
    let checked: boolean;
    try {
      result = await SELF_TEST_CHECKS[id](context);
      checked = result.outcome !== 'skipped';
    } catch (error) {
      checked = false;
      // The hardware behind the test did not answer (or answered nonsense): a failure, not a crash.
      const reason = error instanceof Error ? error.message : String(error);
      result = {
        outcome: 'failed' as const,
        note: `could not run the test: ${reason}`,
        faultCode: FAULT_WHEN_UNANSWERED[id],
      };
    }
    const report: Omit<SelfTestReport, 'detail'> = {
      testId: id,
      ...result,
      ...(definition?.unit === undefined ? {} : { unit: definition.unit }),
      ...(definition?.limits === undefined ? {} : { limits: definition.limits }),
      durationMs: Math.max(0, Math.round(elapsedMs() - start)),
    };
    return { report: { ...report, detail: formatDetail(report) }, checked };
  }

  async function run(ids: readonly SelfTestId[], signal = new AbortController().signal) {
    return runTests(ids, signal, () => {});
  }

  async function runTests(
    ids: readonly SelfTestId[],
    signal: AbortSignal,
    progress: (done: number, message: string) => void,
  ): Promise<SelfTestReport[]> {
    if (running) {
      throw new ServiceError(
        ErrorCode.BUSY,
        'Self-tests are already running: wait for their results',
      );
    }
    running = true;
    const reports: SelfTestReport[] = [];
    const checked: SelfTestId[] = [];
    try {
      for (const [index, id] of ids.entries()) {
        if (signal.aborted) break; // at a safe point: the previous test has put the car back
        progress(index, `running ${id}`);
        const { report, checked: ranToVerdict } = await runOne(id, signal);
        reports.push(report);
        if (ranToVerdict) checked.push(id);
        options.log.append(
          report.outcome === 'failed' ? 'warn' : 'info',
          'self-test',
          `${id} ${report.outcome}${report.detail ? `: ${report.detail}` : ''}`,
        );
      }
      if (!signal.aborted) progress(ids.length, 'done');
      // What the tests that ran found is stored, also when the run was cancelled after them.
      await options.faults
        .update({
          detected: reports.flatMap((r) => (r.faultCode === undefined ? [] : [r.faultCode])),
          // A test that reached its verdict looked for each of its faults: the ones it did not
          // find are no longer active (a tester now heard means the radio starts, too).
          absent: checked.flatMap(faultCodesOfTest),
        })
        .catch((error: unknown) =>
          options.log.append('error', 'self-test', `fault codes not stored: ${String(error)}`),
        );
    } finally {
      running = false;
    }
    if (signal.aborted) throw new ServiceError(ErrorCode.CANCELLED, 'Self-tests cancelled');
    return reports;
  }

  return {
    get running() {
      return running;
    },
    run,
    handlers: {
      selfTestRun: async (request, context) => {
        const ids = requestedTests(request.testIds);
        const reports = await runTests(ids, context.signal, (done, message) =>
          context.progress(Operation.SELF_TEST, done, ids.length, message),
        );
        return {
          results: reports.map((report) => ({
            testId: report.testId,
            outcome: selfTestOutcomeToProto(report.outcome),
            detail: report.detail,
            durationMs: report.durationMs,
            // value, unit and limits together, or none of them (a test that stopped before
            // measuring has nothing to judge against its limits)
            ...(report.value !== undefined && {
              measuredValue: report.value,
              unit: report.unit ?? '',
              ...(report.limits?.min !== undefined && { limitMin: report.limits.min }),
              ...(report.limits?.max !== undefined && { limitMax: report.limits.max }),
            }),
            faultCode: report.faultCode ?? '',
          })),
        };
      },
    },
  };
}
