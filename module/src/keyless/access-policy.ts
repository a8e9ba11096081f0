/**
 * The module's own rules on top of the signature checks (DESIGN.md "Rules from the product",
 * issue #7), as plain functions of a verified key, the command and what the module knows. No
 * I/O: the controller gathers the facts and acts on the answer.
 */
import {
  CommandKind,
  DRIVER_KEY_GRACE_MS,
  HolderRole,
  WORKSHOP_TEST_KEY_MAX_MS,
  type CommandReason,
  type DigitalKey,
} from '@mini-sharing/shared-protocol/trust';
import { refusal, type AccessReason, type AccessRefusal } from './access-events.js';

export const isDriverRole = (role: HolderRole): boolean =>
  role === HolderRole.DRIVER || role === HolderRole.VIP_DRIVER;

/** What the controller knows when it applies the rules to a verified key. */
export interface PolicyFacts {
  nowMs: number;
  /** The car's ignition is on (it is being driven); undefined when the car did not answer. */
  ignitionOn: boolean | undefined;
  /** The module released the immobilizer for a drive under this very token. */
  drivingUnderThisKey: boolean;
  /** This key's booking already ended at the car (online end, revocation, overdue, superseded). */
  bookingEnded: boolean;
}

/**
 * When the key's Bluetooth access ends: an owner key has no end (0) beyond its own notAfter; a
 * workshop test key lasts 15 minutes from its start at most, whatever it says.
 */
export function accessEndsAtMs(key: DigitalKey): number {
  if (key.role === HolderRole.OWNER) return 0;
  if (key.role === HolderRole.WORKSHOP_TEST) {
    return Math.min(Number(key.notAfterMs), Number(key.notBeforeMs) + WORKSHOP_TEST_KEY_MAX_MS);
  }
  return Number(key.notAfterMs);
}

/** The booking end a driver's key implies (the cloud sets notAfter to it plus 30 minutes). */
export const bookingEndOf = (key: DigitalKey): number =>
  Number(key.notAfterMs) - DRIVER_KEY_GRACE_MS;

/**
 * A verifier refusal in the module's words: a driver's key past its notAfter means the booking is
 * over by more than 30 minutes with the car parked (otherwise the drive would have let it in), so
 * the phone hears ACCESS_ENDED ("end the booking, request a new one") rather than EXPIRED.
 * `key` is the token decoded without checks; `expired` only comes after the signature check.
 */
export function accessReasonFor(reason: CommandReason, key: DigitalKey | undefined): AccessReason {
  if (reason === 'expired' && key && isDriverRole(key.role)) return 'access-ended';
  return reason;
}

/** The rules for a verified key on its own (a presentation, and before every command). */
export function keyPolicyRefusal(key: DigitalKey, facts: PolicyFacts): AccessRefusal | undefined {
  if (key.role === HolderRole.UNSPECIFIED || !(key.role in HolderRole)) {
    return refusal('malformed-token', 'The key names no holder role');
  }
  if (key.role === HolderRole.WORKSHOP_TEST && facts.nowMs > accessEndsAtMs(key)) {
    return refusal('expired', 'A workshop test key works for 15 minutes from its start at most');
  }
  if (isDriverRole(key.role) && key.bookingId === '') {
    return refusal('malformed-token', "A driver's key names no booking");
  }
  if (isDriverRole(key.role) && facts.bookingEnded && !drivingOn(facts)) {
    return refusal('access-ended', "This key's booking has ended; the car is parked");
  }
  return undefined;
}

/** The rules for a command under a verified key. */
export function commandPolicyRefusal(
  key: DigitalKey,
  kind: CommandKind,
  facts: PolicyFacts,
): AccessRefusal | undefined {
  const keyRefusal = keyPolicyRefusal(key, facts);
  if (keyRefusal) return keyRefusal;
  if (kind === CommandKind.ENABLE_DRIVE && key.role === HolderRole.WORKSHOP_TEST) {
    return refusal('missing-permission', 'A workshop test key never releases the immobilizer');
  }
  if (kind === CommandKind.LOCATE) {
    return refusal('unsupported', 'The key link carries no position; the app asks the cloud');
  }
  if (kind === CommandKind.END && facts.ignitionOn !== false) {
    return refusal(
      'car-being-driven',
      facts.ignitionOn === undefined
        ? 'The car did not report its ignition; park it and try again'
        : 'Switch the ignition off before ending: a car being driven is never stopped',
    );
  }
  return undefined;
}

const drivingOn = (facts: PolicyFacts): boolean =>
  facts.drivingUnderThisKey && facts.ignitionOn === true;
