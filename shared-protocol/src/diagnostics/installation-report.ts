/**
 * The installation report: what the workshop app sends the cloud when a mechanic has fitted,
 * flashed, provisioned and tested a module. It arrives as JSON over HTTP, so
 * `parseInstallationReport` checks every field of the untrusted input and returns a typed report
 * or every problem with its JSON path.
 *
 * Unknown properties are ignored (a newer workshop app may send more); known ones are strict.
 * Hand-written because shared-protocol has no schema library yet; the API's TypeBox schema can
 * carry the shapes, these rules (serial, VIN, times) stay here.
 */
import { isRecord, parseJsonInput, typeName } from '../json-input/index.js';
import { validateModuleSerial, validateVin } from '../vehicle/index.js';
import { FAULT_CODE_PATTERN } from './fault-codes.js';
import { SELF_TEST_OUTCOMES, type SelfTestOutcome } from './self-tests.js';

export const INSTALLATION_REPORT_VERSION = 1;

export interface SelfTestReportEntry {
  /** Catalogue id (may be one this software does not know yet). */
  testId: string;
  outcome: SelfTestOutcome;
  /** In the catalogue unit of the test; absent for pass/fail tests and skipped ones. */
  measuredValue?: number;
  /** The unit of measuredValue and the limits, as the module reported it ("V", "ms", "dBm"). */
  unit?: string;
  /** The limits the module judged the value by (inclusive); absent where none applies. */
  limitMin?: number;
  limitMax?: number;
  /** The fault code the module stored for a failure (DTC shape, e.g. "U1C60"). */
  faultCode?: string;
  /** What was measured or what failed, in words a technician can act on. */
  detail: string;
  durationMs?: number;
}

export interface InstallationReport {
  reportVersion: typeof INSTALLATION_REPORT_VERSION;
  /** Canonical module serial. */
  moduleSerial: string;
  /** Normalised VIN (upper case). */
  vin: string;
  mechanic: { id: string; name: string };
  dealer: { id: string; name: string; stationId: string };
  /** Semantic version of the firmware the module runs. */
  firmwareVersion: string;
  /** ISO 8601 UTC, e.g. "2024-05-02T09:14:03.120Z". */
  startedAt: string;
  finishedAt: string;
  selfTests: SelfTestReportEntry[];
}

export interface ReportInputError {
  /** JSON path, e.g. `selfTests[2].outcome`; empty for the whole report. */
  path: string;
  message: string;
}

export type InstallationReportParse =
  { ok: true; report: InstallationReport } | { ok: false; errors: ReportInputError[] };

export function formatReportInputError(error: ReportInputError): string {
  return `${error.path === '' ? 'report' : error.path}: ${error.message}`;
}

/** Bounds on untrusted input, so a hostile report cannot make the cloud store megabytes. */
const MAX_NAME = 200;
const MAX_DETAIL = 2000;
const MAX_UNIT = 16;
const MAX_SELF_TESTS = 64;
const TEST_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

type Fail = (path: string, message: string) => void;

/** Parses an installation report from JSON text or parsed JSON. Never throws. */
export function parseInstallationReport(input: unknown): InstallationReportParse {
  const parsed = parseJsonInput(input);
  if (!parsed.ok) return { ok: false, errors: [{ path: '', message: parsed.message }] };
  const value = parsed.value;
  const errors: ReportInputError[] = [];
  const fail: Fail = (path, message) => errors.push({ path, message });
  if (!isRecord(value)) {
    fail('', `must be a JSON object, is ${typeName(value)}`);
    return { ok: false, errors };
  }

  if (value.reportVersion !== INSTALLATION_REPORT_VERSION) {
    fail(
      'reportVersion',
      `must be ${INSTALLATION_REPORT_VERSION}, is ${show(value.reportVersion)}`,
    );
  }
  let moduleSerial = '';
  const serialText = readText(value.moduleSerial, 'moduleSerial', MAX_NAME, fail);
  if (serialText !== undefined) {
    const serial = validateModuleSerial(serialText);
    if (serial.ok) moduleSerial = serial.serial;
    else fail('moduleSerial', `not a valid module serial (${serial.reason})`);
  }
  let vin = '';
  const vinText = readText(value.vin, 'vin', MAX_NAME, fail);
  if (vinText !== undefined) {
    const result = validateVin(vinText);
    if (result.ok) vin = result.vin;
    else fail('vin', `not a valid VIN (${result.reason})`);
  }
  // Fields of a missing object are not reported again: one error per problem.
  const mechanic = readObject(value.mechanic, 'mechanic', fail);
  const mechanicId = mechanic && readText(mechanic.id, 'mechanic.id', MAX_NAME, fail);
  const mechanicName = mechanic && readText(mechanic.name, 'mechanic.name', MAX_NAME, fail);
  const dealer = readObject(value.dealer, 'dealer', fail);
  const dealerId = dealer && readText(dealer.id, 'dealer.id', MAX_NAME, fail);
  const dealerName = dealer && readText(dealer.name, 'dealer.name', MAX_NAME, fail);
  const stationId = dealer && readText(dealer.stationId, 'dealer.stationId', MAX_NAME, fail);
  const firmwareVersion = readText(value.firmwareVersion, 'firmwareVersion', MAX_NAME, fail);
  if (firmwareVersion !== undefined && !SEMVER.test(firmwareVersion)) {
    fail('firmwareVersion', `must be a semantic version like 1.4.0, is ${show(firmwareVersion)}`);
  }
  const startedAt = readTime(value.startedAt, 'startedAt', fail);
  const finishedAt = readTime(value.finishedAt, 'finishedAt', fail);
  if (startedAt !== undefined && finishedAt !== undefined && startedAt.ms > finishedAt.ms) {
    fail('finishedAt', `is before startedAt (${startedAt.text})`);
  }
  const selfTests = readSelfTests(value.selfTests, fail);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    report: {
      reportVersion: INSTALLATION_REPORT_VERSION,
      moduleSerial,
      vin,
      mechanic: { id: mechanicId ?? '', name: mechanicName ?? '' },
      dealer: { id: dealerId ?? '', name: dealerName ?? '', stationId: stationId ?? '' },
      firmwareVersion: firmwareVersion ?? '',
      startedAt: startedAt?.text ?? '',
      finishedAt: finishedAt?.text ?? '',
      selfTests,
    },
  };
}

function readSelfTests(raw: unknown, fail: Fail): SelfTestReportEntry[] {
  if (!Array.isArray(raw)) {
    fail('selfTests', `must be an array, is ${typeName(raw)}`);
    return [];
  }
  if (raw.length > MAX_SELF_TESTS) {
    fail('selfTests', `has ${raw.length} entries, at most ${MAX_SELF_TESTS} allowed`);
    return [];
  }
  const entries: SelfTestReportEntry[] = [];
  const firstIndex = new Map<string, number>();
  raw.forEach((item: unknown, index: number) => {
    const path = `selfTests[${index}]`;
    const entry = readObject(item, path, fail);
    if (entry === undefined) return;
    const testId = readText(entry.testId, `${path}.testId`, 64, fail);
    if (testId !== undefined && !TEST_ID.test(testId)) {
      fail(`${path}.testId`, `must be a test id like "supply-voltage", is ${show(testId)}`);
    } else if (testId !== undefined) {
      const earlier = firstIndex.get(testId);
      if (earlier !== undefined) fail(`${path}.testId`, `duplicate of selfTests[${earlier}]`);
      else firstIndex.set(testId, index);
    }
    const outcome = SELF_TEST_OUTCOMES.find((o) => o === entry.outcome);
    if (outcome === undefined) {
      fail(
        `${path}.outcome`,
        `must be one of ${SELF_TEST_OUTCOMES.join(', ')}, is ${show(entry.outcome)}`,
      );
    }
    const measuredValue = entry.measuredValue;
    if (
      measuredValue !== undefined &&
      !(typeof measuredValue === 'number' && Number.isFinite(measuredValue))
    ) {
      fail(`${path}.measuredValue`, `must be a finite number, is ${show(measuredValue)}`);
    }
    const limitMin = readOptionalNumber(entry.limitMin, `${path}.limitMin`, fail);
    const limitMax = readOptionalNumber(entry.limitMax, `${path}.limitMax`, fail);
    if (limitMin !== undefined && limitMax !== undefined && limitMin > limitMax) {
      fail(`${path}.limitMax`, `is below limitMin (${limitMin})`);
    }
    const unit =
      entry.unit === undefined ? undefined : readText(entry.unit, `${path}.unit`, MAX_UNIT, fail);
    const faultCode =
      entry.faultCode === undefined
        ? undefined
        : readText(entry.faultCode, `${path}.faultCode`, 8, fail);
    if (faultCode !== undefined && !FAULT_CODE_PATTERN.test(faultCode)) {
      fail(`${path}.faultCode`, `must be a fault code like "U1C60", is ${show(faultCode)}`);
    }
    const detail = readText(entry.detail, `${path}.detail`, MAX_DETAIL, fail, { allowEmpty: true });
    const durationMs = entry.durationMs;
    if (
      durationMs !== undefined &&
      !(Number.isSafeInteger(durationMs) && (durationMs as number) >= 0)
    ) {
      fail(`${path}.durationMs`, `must be a whole number of milliseconds, is ${show(durationMs)}`);
    }
    if (testId === undefined || outcome === undefined || detail === undefined) return;
    entries.push({
      testId,
      outcome,
      ...(typeof measuredValue === 'number' ? { measuredValue } : {}),
      ...(unit === undefined ? {} : { unit }),
      ...(limitMin === undefined ? {} : { limitMin }),
      ...(limitMax === undefined ? {} : { limitMax }),
      ...(faultCode === undefined || !FAULT_CODE_PATTERN.test(faultCode) ? {} : { faultCode }),
      detail,
      ...(typeof durationMs === 'number' ? { durationMs } : {}),
    });
  });
  return entries;
}

function readOptionalNumber(raw: unknown, path: string, fail: Fail): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
  fail(path, `must be a finite number, is ${show(raw)}`);
  return undefined;
}

function readObject(raw: unknown, path: string, fail: Fail): Record<string, unknown> | undefined {
  if (isRecord(raw)) return raw;
  fail(path, `must be an object, is ${typeName(raw)}`);
  return undefined;
}

function readText(
  raw: unknown,
  path: string,
  maxLength: number,
  fail: Fail,
  options: { allowEmpty?: boolean } = {},
): string | undefined {
  if (typeof raw !== 'string') {
    fail(path, raw === undefined ? 'is missing' : `must be a string, is ${typeName(raw)}`);
    return undefined;
  }
  if (!options.allowEmpty && raw.trim() === '') {
    fail(path, 'must not be empty');
    return undefined;
  }
  if (raw.length > maxLength) {
    fail(path, `is ${raw.length} characters long, at most ${maxLength} allowed`);
    return undefined;
  }
  return raw;
}

function readTime(
  raw: unknown,
  path: string,
  fail: Fail,
): { text: string; ms: number } | undefined {
  const text = readText(raw, path, 40, fail);
  if (text === undefined) return undefined;
  const ms = UTC_TIME.test(text) ? Date.parse(text) : Number.NaN;
  // Date.parse rolls 2024-02-30 over to March; the round trip catches that.
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 19) !== text.slice(0, 19)) {
    fail(path, `must be an ISO 8601 UTC time like 2024-05-02T09:14:03Z, is ${show(text)}`);
    return undefined;
  }
  return { text, ms };
}

/** A short, safe rendering of an untrusted value for an error message. */
function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeName(value);
  } catch {
    text = typeName(value); // BigInt or a cycle, from a caller that skipped JSON
  }
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
