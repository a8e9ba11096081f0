/**
 * The module's self-tests. A test's id is what `SelfTestRunRequest.test_ids` and
 * `SelfTestResult.test_id` carry on the service link (proto/mini/service/v1/diagnostics.proto).
 */
import { SelfTestOutcome as ProtoSelfTestOutcome } from '../messages/index.js';

export const SELF_TEST_IDS = [
  'supply-voltage',
  'vehicle-bus',
  'central-lock-actuation',
  'immobilizer-handshake',
  'ble-radio',
  'gnss-fix',
  'cellular-link',
  'secure-storage',
] as const;
export type SelfTestId = (typeof SELF_TEST_IDS)[number];

export type MeasurementUnit = 'V' | 'ms' | 's' | 'dBm';

export interface MeasurementLimits {
  /** Lowest passing value, inclusive. */
  min?: number;
  /** Highest passing value, inclusive. */
  max?: number;
}

export interface SelfTestDefinition {
  id: SelfTestId;
  title: string;
  /** What the test checks, in words for a mechanic. */
  checks: string;
  /** Unit of the measured value; absent for pass/fail tests. */
  unit?: MeasurementUnit;
  limits?: MeasurementLimits;
  /** Must pass before the cloud accepts an installation. */
  mandatoryAtInstallation: boolean;
  /**
   * Moves something in the car (locks, immobilizer). On a provisioned module such a test needs a
   * service authorization (DESIGN "Service link"); the others are read-only diagnostics.
   */
  actuatesCar: boolean;
  /** What must be true before running it; the module skips the test (outcome skipped) otherwise. */
  preconditions: string[];
}

export const SELF_TESTS: readonly SelfTestDefinition[] = [
  {
    id: 'supply-voltage',
    title: 'Supply voltage',
    checks: "12 V supply at the module's power connector.",
    unit: 'V',
    limits: { min: 12.0, max: 15.0 },
    mandatoryAtInstallation: true,
    actuatesCar: false,
    preconditions: [],
  },
  {
    id: 'vehicle-bus',
    title: 'Vehicle connection',
    checks:
      "The car answers over the 5GE sharing interface: the module reads the VIN and the car's coding. Measures the response time.",
    unit: 'ms',
    limits: { max: 200 },
    mandatoryAtInstallation: true,
    actuatesCar: false,
    preconditions: [],
  },
  {
    id: 'central-lock-actuation',
    title: 'Central locking',
    checks:
      'Locks and unlocks the car once and waits for the locks to confirm. Measures the slower of the two confirmations.',
    unit: 'ms',
    limits: { max: 1500 },
    mandatoryAtInstallation: true,
    actuatesCar: true,
    preconditions: [
      'Ignition off',
      'All doors, tailgate and bonnet closed',
      'Nobody inside the car',
    ],
  },
  {
    id: 'immobilizer-handshake',
    title: 'Immobilizer',
    checks:
      "Authenticates the module to the car's immobilizer and releases it for engine start for 10 s, without starting the engine. Measures the handshake time.",
    unit: 'ms',
    limits: { max: 500 },
    mandatoryAtInstallation: true,
    actuatesCar: true,
    preconditions: ['Ignition off', 'Engine not running'],
  },
  {
    id: 'ble-radio',
    title: 'Bluetooth',
    checks:
      "The module advertises and accepts a connection from the workshop's Bluetooth tester. Measures the tester's signal strength at the module.",
    unit: 'dBm',
    limits: { min: -75 },
    mandatoryAtInstallation: true,
    actuatesCar: false,
    preconditions: ["Workshop Bluetooth tester within 1 m of the car's driver door"],
  },
  {
    id: 'gnss-fix',
    title: 'Satellite position',
    checks: 'The GNSS receiver gets a position fix. Measures the time to the first fix.',
    unit: 's',
    limits: { max: 120 },
    // Workshop halls block the sky; the car's first drive out proves it.
    mandatoryAtInstallation: false,
    actuatesCar: false,
    preconditions: ['Car outside with a clear view of the sky'],
  },
  {
    id: 'cellular-link',
    title: 'Mobile network',
    checks:
      'The module registers with the mobile network and reaches the sharing cloud. Measures the signal strength.',
    unit: 'dBm',
    limits: { min: -115 },
    // Keys work without network; a workshop in a basement must still be able to install.
    mandatoryAtInstallation: false,
    actuatesCar: false,
    preconditions: ['Module provisioned (it needs its cloud link settings)'],
  },
  {
    id: 'secure-storage',
    title: 'Secure key storage',
    checks:
      "The module's identity key is present and signs a test message that verifies, and its storage is read-protected.",
    mandatoryAtInstallation: true,
    actuatesCar: false,
    preconditions: ['Module provisioned'],
  },
];

const BY_ID: ReadonlyMap<string, SelfTestDefinition> = new Map(SELF_TESTS.map((t) => [t.id, t]));

export function isSelfTestId(text: string): text is SelfTestId {
  return BY_ID.has(text);
}

/** The catalogue entry for a test id; undefined for ids this software does not know. */
export function selfTestDefinition(id: string): SelfTestDefinition | undefined {
  return BY_ID.get(id);
}

/** Tests that must pass before the cloud accepts an installation. */
export const INSTALLATION_SELF_TEST_IDS: readonly SelfTestId[] = SELF_TESTS.filter(
  (t) => t.mandatoryAtInstallation,
).map((t) => t.id);

/**
 * What the module runs for an empty `test_ids`: every test that does not actuate the car, so a
 * request that names nothing can never move anything.
 */
export const DEFAULT_SELF_TEST_IDS: readonly SelfTestId[] = SELF_TESTS.filter(
  (t) => !t.actuatesCar,
).map((t) => t.id);

/**
 * Whether running these tests (empty: the default set) on a provisioned module needs a service
 * authorization: yes when any of them actuates the car, or is unknown (fail closed).
 */
export function selfTestsNeedAuthorization(testIds: readonly string[]): boolean {
  return testIds.some((id) => selfTestDefinition(id)?.actuatesCar ?? true);
}

export type LimitVerdict = 'within-limits' | 'below-min' | 'above-max' | 'not-measured';

/** Where a measured value lies against a test's limits; tests without limits are within. */
export function checkMeasurement(id: SelfTestId, value: number | undefined): LimitVerdict {
  const limits = BY_ID.get(id)?.limits;
  if (limits === undefined) return 'within-limits';
  if (value === undefined || !Number.isFinite(value)) return 'not-measured';
  if (limits.min !== undefined && value < limits.min) return 'below-min';
  if (limits.max !== undefined && value > limits.max) return 'above-max';
  return 'within-limits';
}

/** Outcome of one self-test, as reports and the UI spell it. */
export type SelfTestOutcome = 'passed' | 'failed' | 'skipped';
export const SELF_TEST_OUTCOMES: readonly SelfTestOutcome[] = ['passed', 'failed', 'skipped'];

/** The outcome a service-link SelfTestResult carries; undefined for UNSPECIFIED or unknown. */
export function selfTestOutcomeFromProto(value: ProtoSelfTestOutcome): SelfTestOutcome | undefined {
  switch (value) {
    case ProtoSelfTestOutcome.PASSED:
      return 'passed';
    case ProtoSelfTestOutcome.FAILED:
      return 'failed';
    case ProtoSelfTestOutcome.SKIPPED:
      return 'skipped';
    default:
      return undefined;
  }
}

export function selfTestOutcomeToProto(outcome: SelfTestOutcome): ProtoSelfTestOutcome {
  const values = {
    passed: ProtoSelfTestOutcome.PASSED,
    failed: ProtoSelfTestOutcome.FAILED,
    skipped: ProtoSelfTestOutcome.SKIPPED,
  } as const satisfies Record<SelfTestOutcome, ProtoSelfTestOutcome>;
  return values[outcome];
}
