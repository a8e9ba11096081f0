/**
 * Carrying out a verified cloud envelope (PROTOCOL.md 16.5): each body goes to the access
 * controller, the identity store (cloud key rotation), the clock (time sync) or the telemetry
 * sender, and what that gave becomes the CommandResult status. Envelope checks (signature,
 * expiry, replay) happen before this, in cloud-link.ts.
 */
import { bytesEqual, toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  BookingEndedSchema,
  BookingStartedSchema,
  CommandStatus,
  type BookingState,
  type CloudEnvelope,
  type CloudKeyRotation,
} from '@mini-sharing/shared-protocol/link';
import { create } from '@mini-sharing/shared-protocol/messages';
import { verifyCloudKeyCertificate } from '@mini-sharing/shared-protocol/trust';
import type { ModuleClock } from '../hal/index.js';
import type { IdentityStore } from '../service/identity.js';
import type { CloudCommandTarget, TargetAnswer } from './command-target.js';

export interface Outcome {
  status: CommandStatus;
  message: string;
}

export interface CommandContext {
  access: CloudCommandTarget;
  identity: IdentityStore;
  clock: ModuleClock;
  /** Send a telemetry report now. */
  requestTelemetry(reason: string): void;
  /** Runs a booking start with positions held back, from before the target hears of it. */
  holdPositions<T>(work: () => Promise<T>): Promise<T>;
  /** A booking ended: the parking position may go out now (if the rule allows). */
  afterBookingEnded(): void;
}

const ok = (message: string): Outcome => ({ status: CommandStatus.OK, message });
const refused = (message: string): Outcome => ({ status: CommandStatus.REFUSED, message });

/** What a target answered, as a status: nothing or ok is OK; `stale`/`not-newer` is STALE. */
export function outcomeOf(answer: TargetAnswer, okMessage: string): Outcome {
  if (!answer || answer.ok) return ok(okMessage);
  const stale = answer.stale === true || answer.reason === 'not-newer' || answer.reason === 'stale';
  return {
    status: stale ? CommandStatus.STALE : CommandStatus.REFUSED,
    message: answer.message ?? answer.reason ?? 'Refused',
  };
}

/** Carries out the envelope's body. Throws only when a target throws (reported as INTERNAL). */
export async function applyCloudBody(
  envelope: CloudEnvelope,
  context: CommandContext,
): Promise<Outcome> {
  const { access, clock } = context;
  const { body } = envelope;
  switch (body.case) {
    case 'bookingStarted': {
      const value = body.value;
      return context.holdPositions(async () =>
        outcomeOf(await access.bookingStarted(value), `Booking ${value.bookingId} started`),
      );
    }
    case 'bookingEnded': {
      const outcome = outcomeOf(
        await access.bookingEnded(body.value),
        `Booking ${body.value.bookingId} ended`,
      );
      if (outcome.status === CommandStatus.OK) context.afterBookingEnded();
      return outcome;
    }
    case 'timeSync': {
      const cloudTimeMs = Number(body.value.cloudTimeMs);
      // Beyond what a Date holds (year 275760) is no real time.
      if (!Number.isSafeInteger(cloudTimeMs) || cloudTimeMs > 8.64e15) {
        return refused('The cloud time is out of range');
      }
      const outcome = outcomeOf(
        await access.timeSync(cloudTimeMs),
        `Clock set to ${new Date(cloudTimeMs).toISOString()}`,
      );
      if (outcome.status === CommandStatus.OK) await clock.setTime(cloudTimeMs);
      return outcome;
    }
    case 'cloudKeyRotation':
      return rotateCloudKey(body.value, context.identity, clock.now());
    case 'newOwnerReset': {
      const answer = await access.newOwnerReset(body.value);
      return answer.confirmed
        ? ok(`New owner generation ${body.value.ownerGeneration} in force`)
        : refused(answer.reason ?? 'The module did not confirm the reset');
    }
    case 'telemetryRequest':
      context.requestTelemetry('requested by the cloud');
      return ok('Telemetry report on its way');
    case 'revocationList':
      return outcomeOf(
        await access.applyRevocationList(body.value.revocationList),
        'Revocation list applied',
      );
    case 'bookingState':
      return applyBookingState(body.value, Number(envelope.issuedAtMs), context);
    default:
      return { status: CommandStatus.UNSUPPORTED, message: 'This firmware does not know the body' };
  }
}

/**
 * The retained booking state names the booking running now: end the one the module runs if it
 * is another (or none runs), start the named one if the module does not run it yet.
 */
async function applyBookingState(
  state: BookingState,
  issuedAtMs: number,
  context: CommandContext,
): Promise<Outcome> {
  const { access } = context;
  const running = state.running;
  const current = access.runningBooking;
  if (current && running && current.bookingId === running.bookingId) {
    return ok(`Booking ${running.bookingId} already running`);
  }
  if (current) {
    const ended = outcomeOf(
      await access.bookingEnded(
        create(BookingEndedSchema, {
          bookingId: current.bookingId,
          tokenId: current.tokenId,
          endedAtMs: BigInt(issuedAtMs),
        }),
      ),
      `Booking ${current.bookingId} ended`,
    );
    if (ended.status !== CommandStatus.OK) return ended;
    context.afterBookingEnded();
  }
  if (!running) return ok('No booking running');
  return context.holdPositions(async () =>
    outcomeOf(
      await access.bookingStarted(
        create(BookingStartedSchema, {
          bookingId: running.bookingId,
          tokenId: running.tokenId,
          role: running.role,
          bookingEndMs: running.bookingEndMs,
        }),
      ),
      `Booking ${running.bookingId} running`,
    ),
  );
}

/**
 * Adds a signing key the pinned root certified and drops the retired ones, durably (the
 * identity store rewrites its provisioning record). Refused: a certificate the root did not
 * sign, one already expired, or one that retires the key it adds.
 */
async function rotateCloudKey(
  rotation: CloudKeyRotation,
  identity: IdentityStore,
  nowMs: number,
): Promise<Outcome> {
  const root = identity.rootPublicKey;
  const provisioned = identity.provisioned;
  if (!root || !provisioned) return refused('The module is not provisioned');
  const verdict = await verifyCloudKeyCertificate(rotation.cloudKeyCertificate, root);
  if (!verdict.ok) return refused(verdict.message);
  const added = verdict.value;
  if (added.notAfterMs < nowMs) return refused('The new cloud key certificate has expired');
  const retired = (keyId: Uint8Array) => rotation.retiredKeyIds.some((id) => bytesEqual(id, keyId));
  if (retired(added.keyId)) return refused('The rotation retires the key it adds');
  const kept: Uint8Array[] = [];
  let alreadyHeld = false;
  for (const certificate of provisioned.cloudKeyCertificates) {
    alreadyHeld ||= bytesEqual(certificate, rotation.cloudKeyCertificate);
    const held = await verifyCloudKeyCertificate(certificate, root);
    if (held.ok && !retired(held.value.keyId) && !bytesEqual(held.value.keyId, added.keyId)) {
      kept.push(certificate);
    }
  }
  // The cloud repeats its latest announcement whenever a module comes online (a module offline
  // during a rotation catches up): when it changes nothing, write nothing (flash wear).
  if (alreadyHeld && kept.length === provisioned.cloudKeyCertificates.length - 1) {
    return ok(`Cloud key ${toHex(added.keyId)} already held`);
  }
  await identity.replaceCloudKeyCertificates([...kept, rotation.cloudKeyCertificate]);
  return ok(
    `Cloud key ${toHex(added.keyId)} added; ${provisioned.cloudKeyCertificates.length - kept.length} replaced or retired`,
  );
}
