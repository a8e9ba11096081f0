/**
 * The eight self-tests of the catalogue (shared-protocol `SELF_TESTS`), each against the HAL.
 * A check measures in the catalogue's unit, judges the value against the catalogue's limits
 * (`checkMeasurement`), and names the fault code (FAULT_CODES) a failure stores.
 *
 * Choices:
 * - An unmet precondition of the catalogue (ignition on, a door open, module not provisioned)
 *   gives SKIPPED with what to do, and stores no fault code: an open tailgate is not a broken
 *   central lock (diagnostics.proto: "SKIPPED: a precondition was not met").
 * - A car without the 5GE interface fails every test that needs the car with U1C10, the real
 *   cause, rather than the code of the function that could not be reached.
 * - Actuating tests move the car to the other state and back, reading the state back after each
 *   command, and restore what they found whatever happens.
 */
import { checkMeasurement, type SelfTestId } from '@mini-sharing/shared-protocol/diagnostics';
import { verifyModuleCertificate } from '@mini-sharing/shared-protocol/trust';
import { isHalError, type ModuleHal, type VehicleState } from '../hal/index.js';
import type { IdentityStore } from './identity.js';

export interface CheckResult {
  outcome: 'passed' | 'failed' | 'skipped';
  /** In the catalogue's unit; absent when nothing was measured. */
  value?: number;
  /** What was found, in words a technician can act on. */
  note: string;
  /** The fault code a failure stores. */
  faultCode?: string;
}

export interface CheckContext {
  hal: Pick<ModuleHal, 'vehicle' | 'gnss' | 'modem' | 'bleRadio' | 'supply'>;
  identity: IdentityStore;
  moduleSerial: string;
  /** Monotonic milliseconds, for the measured times. */
  elapsedMs: () => number;
  /** How long the GNSS test waits for a fix, and how often it asks. */
  gnssFixWaitMs: number;
  gnssPollMs: number;
  signal: AbortSignal;
}

type Check = (context: CheckContext) => Promise<CheckResult>;

const passed = (value: number | undefined, note: string): CheckResult =>
  value === undefined ? { outcome: 'passed', note } : { outcome: 'passed', value, note };
const failed = (faultCode: string, note: string, value?: number): CheckResult =>
  value === undefined
    ? { outcome: 'failed', note, faultCode }
    : { outcome: 'failed', value, note, faultCode };
const skipped = (note: string): CheckResult => ({ outcome: 'skipped', note });

const NO_5GE =
  'the car has no 5GE sharing interface (option 5GE not coded, or the module is not connected to it)';

/** A car without the 5GE interface fails with U1C10; any other error goes to the runner. */
async function withCar(run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (error) {
    if (isHalError(error, 'no-sharing-interface')) return failed('U1C10', NO_5GE);
    throw error;
  }
}

async function timed<T>(context: CheckContext, run: () => Promise<T>): Promise<[T, number]> {
  const start = context.elapsedMs();
  const value = await run();
  return [value, Math.round(context.elapsedMs() - start)];
}

/** Why an actuating test cannot run now (catalogue preconditions), or undefined. */
function actuationBlocked(state: VehicleState, needsClosed: boolean): string | undefined {
  if (state.ignition !== 'off' || state.engineRunning) {
    return 'the ignition is on: switch it off (engine off), then run the test again';
  }
  if (needsClosed && state.openDoors.length > 0) {
    return `open: ${state.openDoors.join(', ')}: close every door, the tailgate and the bonnet, then run the test again`;
  }
  return undefined;
}

const supplyVoltage: Check = async ({ hal }) => {
  const volts = (await hal.supply.readMillivolts()) / 1000;
  switch (checkMeasurement('supply-voltage', volts)) {
    case 'below-min':
      return failed(
        'B1C00',
        "supply below 12.0 V: charge the car's battery or connect the workshop charger, then check the module's power connector and fuse",
        volts,
      );
    case 'above-max':
      return failed(
        'B1C01',
        "supply above 15.0 V: check the charger's setting and the car's charging system",
        volts,
      );
    default:
      return passed(volts, '');
  }
};

const vehicleBus: Check = (context) =>
  withCar(async () => {
    const [car, ms] = await timed(context, () => context.hal.vehicle.readIdentity());
    const provisioned = context.identity.provisioned;
    if (provisioned) {
      const certificate = await verifyModuleCertificate(provisioned.moduleCertificate, {
        keyRing: provisioned.keyRing,
        moduleSerial: context.moduleSerial,
        modulePublicKey: provisioned.identity.publicKey,
        vin: car.vin,
      });
      if (!certificate.ok && certificate.reason === 'vin-mismatch') {
        return failed('U1C11', certificate.message, ms);
      }
    }
    if (checkMeasurement('vehicle-bus', ms) !== 'within-limits') {
      return failed(
        'U1C10',
        `the car answered slowly (VIN ${car.vin}): check the module's vehicle connector and the bus wiring`,
        ms,
      );
    }
    return passed(ms, `VIN ${car.vin} and coding read`);
  });

const centralLock: Check = (context) =>
  withCar(async () => {
    const { vehicle } = context.hal;
    const before = await vehicle.readState();
    const blocked = actuationBlocked(before, true);
    if (blocked) return skipped(blocked);
    // Both directions, starting with the one that moves the locks, ending where the car was.
    const steps = before.locked ? (['unlock', 'lock'] as const) : (['lock', 'unlock'] as const);
    let slowest = 0;
    try {
      for (const step of steps) {
        const [confirmed, ms] = await timed(context, async () => {
          await (step === 'lock' ? vehicle.lock() : vehicle.unlock());
          return (await vehicle.readState()).locked === (step === 'lock');
        });
        slowest = Math.max(slowest, ms);
        if (!confirmed) {
          return failed(
            'B1C20',
            `the locks did not confirm ${step === 'lock' ? 'locking' : 'unlocking'}: check the central locking and the module's vehicle connector`,
            slowest,
          );
        }
      }
    } catch (error) {
      if (isHalError(error, 'doors-open')) {
        return skipped('something was opened during the test: close everything and run it again');
      }
      throw error;
    } finally {
      await restoreLock(context, before.locked);
    }
    if (checkMeasurement('central-lock-actuation', slowest) !== 'within-limits') {
      return failed('B1C20', 'the central locking confirmed too slowly', slowest);
    }
    return passed(slowest, `locked and unlocked, left ${before.locked ? 'locked' : 'unlocked'}`);
  });

async function restoreLock(context: CheckContext, locked: boolean): Promise<void> {
  const { vehicle } = context.hal;
  const now = await vehicle.readState().catch(() => undefined);
  if (now && now.locked !== locked) {
    await (locked ? vehicle.lock() : vehicle.unlock()).catch(() => undefined);
  }
}

const immobilizer: Check = (context) =>
  withCar(async () => {
    const { vehicle } = context.hal;
    const before = await vehicle.readState();
    const blocked = actuationBlocked(before, false);
    if (blocked) return skipped(blocked);
    const steps = before.immobilizerReleased
      ? (['engage', 'release'] as const)
      : (['release', 'engage'] as const);
    let handshakeMs = 0;
    try {
      for (const step of steps) {
        const [confirmed, ms] = await timed(context, async () => {
          await (step === 'release' ? vehicle.releaseImmobilizer() : vehicle.engageImmobilizer());
          return (await vehicle.readState()).immobilizerReleased === (step === 'release');
        });
        if (step === 'release') handshakeMs = ms;
        if (!confirmed) {
          return failed(
            'B1C21',
            step === 'release'
              ? "the immobilizer did not confirm the release: it rejected the module's authentication"
              : 'the immobilizer did not confirm engaging again',
            ms,
          );
        }
      }
    } finally {
      const now = await vehicle.readState().catch(() => undefined);
      if (now && now.immobilizerReleased !== before.immobilizerReleased) {
        await (
          before.immobilizerReleased ? vehicle.releaseImmobilizer() : vehicle.engageImmobilizer()
        ).catch(() => undefined);
      }
    }
    if (checkMeasurement('immobilizer-handshake', handshakeMs) !== 'within-limits') {
      return failed('B1C21', 'the immobilizer answered the handshake too slowly', handshakeMs);
    }
    return passed(
      handshakeMs,
      `released and engaged, left ${before.immobilizerReleased ? 'released' : 'engaged'}`,
    );
  });

const bleRadio: Check = async ({ hal }) => {
  const check = await hal.bleRadio.selfCheck();
  if (!check.started) return failed('B1C40', 'the Bluetooth radio does not start');
  const rssi = check.testerRssiDbm;
  if (rssi === null) {
    return failed(
      'B1C42',
      "no signal from the workshop's Bluetooth tester: place it within 1 m of the driver door; if it is there, check the module's antenna",
    );
  }
  if (checkMeasurement('ble-radio', rssi) !== 'within-limits') {
    return failed(
      'B1C42',
      "weak signal from the workshop's Bluetooth tester: check that it is within 1 m of the driver door, then check the module's antenna and its mounting",
      rssi,
    );
  }
  return passed(rssi, 'advertising; the workshop tester is heard');
};

const gnssFix: Check = async (context) => {
  const start = context.elapsedMs();
  for (;;) {
    const reading = await context.hal.gnss.readPosition();
    const seconds = Math.round(context.elapsedMs() - start) / 1000;
    if (reading.fix) {
      const position = `${reading.latitude.toFixed(5)}, ${reading.longitude.toFixed(5)} ±${Math.round(reading.accuracyM)} m`;
      if (checkMeasurement('gnss-fix', seconds) !== 'within-limits') {
        return failed('B1C51', `position ${position} found too late`, seconds);
      }
      return passed(seconds, `position ${position}`);
    }
    if (context.signal.aborted) return skipped('cancelled while waiting for a position');
    if (seconds * 1000 >= context.gnssFixWaitMs) {
      return failed(
        'B1C51',
        `no satellites: no position after ${seconds.toFixed(1)} s; take the car outside with a clear view of the sky (a workshop hall blocks it)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, context.gnssPollMs));
  }
};

const cellularLink: Check = async ({ hal, identity }) => {
  if (!identity.provisioned) {
    return skipped('the module is not provisioned: it has no cloud link settings yet');
  }
  const registration = await hal.modem.readRegistration();
  if (!registration.registered) {
    return registration.signalDbm === null
      ? failed(
          'U1C60',
          'not registered: no mobile network here; move the car out of the basement or garage, then check the module antenna',
        )
      : failed(
          'U1C60',
          'not registered: the mobile network is too weak here; move the car, then check the module antenna',
          registration.signalDbm,
        );
  }
  if (checkMeasurement('cellular-link', registration.signalDbm) !== 'within-limits') {
    return failed(
      'U1C60',
      `registered with ${registration.operator}, but the signal is too weak for a reliable link: check the module antenna`,
      registration.signalDbm,
    );
  }
  // Honest about what is not tested yet: this firmware has no module link (MQTT) to the cloud.
  return passed(
    registration.signalDbm,
    `registered with ${registration.operator} (reaching the sharing cloud is not tested by this firmware)`,
  );
};

const secureStorage: Check = async ({ identity }) => {
  if (!identity.provisioned) {
    return skipped('the module is not provisioned: it holds no identity key yet');
  }
  const check = await identity.selfCheck();
  if (!check.ok) {
    return failed('B1C70', `${check.problem}: the module must be replaced or re-provisioned`);
  }
  return passed(undefined, 'the identity key reads back, signs and verifies');
};

export const SELF_TEST_CHECKS: Readonly<Record<SelfTestId, Check>> = {
  'supply-voltage': supplyVoltage,
  'vehicle-bus': vehicleBus,
  'central-lock-actuation': centralLock,
  'immobilizer-handshake': immobilizer,
  'ble-radio': bleRadio,
  'gnss-fix': gnssFix,
  'cellular-link': cellularLink,
  'secure-storage': secureStorage,
};

/** The code a test stores when it cannot run at all (its hardware does not answer). */
export const FAULT_WHEN_UNANSWERED: Readonly<Record<SelfTestId, string>> = {
  'supply-voltage': 'B1C00',
  'vehicle-bus': 'U1C10',
  'central-lock-actuation': 'B1C20',
  'immobilizer-handshake': 'B1C21',
  'ble-radio': 'B1C40',
  'gnss-fix': 'B1C50',
  'cellular-link': 'U1C60',
  'secure-storage': 'B1C70',
};
