/**
 * One cloud envelope from the module's commands or state topics, from bytes to an answer:
 * verified (PROTOCOL.md 16.4: signature by a trusted cloud key, this module, module clock,
 * expiry), its signing key valid when it was issued, its body on the right topic, run at most
 * once by id (the id stored before it runs), retained state only if issued after the last
 * applied one of its kind, then carried out (commands.ts).
 */
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  COMMAND_STATUS_FOR_REASON,
  CloudEnvelopeSchema,
  CommandStatus,
  bodyBelongsOn,
  verifyCloudEnvelope,
  type CloudEnvelope,
  type CloudEnvelopeReason,
} from '@mini-sharing/shared-protocol/link';
import { fromBinary } from '@mini-sharing/shared-protocol/messages';
import { decodeSigned } from '@mini-sharing/shared-protocol/trust';
import type { ModuleClock } from '../hal/index.js';
import type { IdentityStore } from '../service/identity.js';
import { describeError } from './channel.js';
import type { CommandMemory, StateKind } from './command-memory.js';
import { applyCloudBody, type CommandContext, type Outcome } from './commands.js';

export type IntakeTopic = 'commands' | StateKind;

export interface IntakeContext {
  moduleSerial: string;
  identity: IdentityStore;
  clock: ModuleClock;
  memory: CommandMemory;
  commands: CommandContext;
}

export interface EnvelopeAnswer {
  /** The envelope id the answer names (empty when the payload does not decode). */
  commandId: Uint8Array;
  outcome: Outcome;
  /**
   * False when nothing proves the payload is the cloud's (malformed, unknown signer, bad
   * signature): answered only while connected and rate-limited, never queued, so forged traffic
   * cannot push real reports out of the offline queue.
   */
  authenticated: boolean;
  /** For the log: the body and id. */
  what: string;
}

/** Refusals before the cloud's signature was checked: nothing in the payload is the cloud's. */
const UNAUTHENTICATED = new Set<CloudEnvelopeReason>([
  'malformed',
  'unknown-signer',
  'bad-signature',
]);

export async function takeCloudEnvelope(
  topic: IntakeTopic,
  payload: Uint8Array,
  context: IntakeContext,
): Promise<EnvelopeAnswer | undefined> {
  const { clock, identity, memory } = context;
  const ring = identity.provisioned?.keyRing;
  if (!ring) return undefined;
  const nowMs = Math.floor(clock.now());
  const clockTrusted = clock.timeKnown;
  const verdict = await verifyCloudEnvelope(payload, {
    moduleSerial: context.moduleSerial,
    cloudKeys: ring.lookup,
    nowMs,
    clockTrusted,
  });
  if (!verdict.ok) {
    const commandId = verdict.reason === 'malformed' ? new Uint8Array(0) : readEnvelopeId(payload);
    return {
      commandId,
      outcome: { status: COMMAND_STATUS_FOR_REASON[verdict.reason], message: verdict.message },
      authenticated: !UNAUTHENTICATED.has(verdict.reason),
      what: `a ${topic} message ${toHex(commandId)}`,
    };
  }
  const { envelope, signerKeyId } = verdict.value;
  const issuedAtMs = Number(envelope.issuedAtMs);
  const answer = (outcome: Outcome): EnvelopeAnswer => ({
    commandId: envelope.id,
    outcome,
    authenticated: true,
    what: `${envelope.body.case ?? 'unknown body'} ${toHex(envelope.id)}`,
  });

  // A signing key vouches only for what was issued within its certificate's validity.
  const signer = ring.check(signerKeyId, issuedAtMs);
  if (!signer.ok) return answer({ status: CommandStatus.UNKNOWN_SIGNER, message: signer.message });
  if (envelope.body.case !== undefined && !bodyBelongsOn(envelope, topic)) {
    return answer({
      status: CommandStatus.REFUSED,
      message: `A ${envelope.body.case} body does not belong on the ${topic} topic`,
    });
  }
  if (memory.isReplay(envelope.id, issuedAtMs)) {
    return answer({ status: CommandStatus.REPLAYED, message: 'Received before' });
  }
  // Stored before it runs: at most once, even across a power cut.
  const times = { issuedAtMs, expiresAtMs: Number(envelope.expiresAtMs) };
  await memory.remember(envelope.id, times, clockTrusted ? nowMs : undefined);
  return answer(await runOnce(envelope, topic, issuedAtMs, context));
}

async function runOnce(
  envelope: CloudEnvelope,
  topic: IntakeTopic,
  issuedAtMs: number,
  context: IntakeContext,
): Promise<Outcome> {
  const { memory } = context;
  const state = topic === 'commands' ? undefined : topic;
  if (state) {
    const last = memory.lastApplied(state);
    if (last !== undefined && issuedAtMs <= last) {
      return {
        status: CommandStatus.STALE,
        message: `Issued ${iso(issuedAtMs)}, not after the ${state} state applied (${iso(last)})`,
      };
    }
  }
  let outcome: Outcome;
  try {
    outcome = await applyCloudBody(envelope, context.commands);
  } catch (error) {
    return { status: CommandStatus.INTERNAL, message: describeError(error) };
  }
  if (outcome.status === CommandStatus.OK) {
    await memory.markApplied(supersededState(envelope, state), issuedAtMs);
  }
  return outcome;
}

/**
 * The retained state an applied envelope makes older ones of stale: its own kind; for booking
 * commands the booking state (a state issued before a booking ended must not restart it); for a
 * new-owner reset both (nothing of the previous owner's era comes back from the broker).
 */
function supersededState(envelope: CloudEnvelope, state: StateKind | undefined): StateKind[] {
  switch (envelope.body.case) {
    case 'bookingStarted':
    case 'bookingEnded':
      return ['booking'];
    case 'newOwnerReset':
      return ['revocation-list', 'booking'];
    default:
      return state ? [state] : [];
  }
}

/** The id a cloud envelope names; empty when it does not decode. */
function readEnvelopeId(bytes: Uint8Array): Uint8Array {
  try {
    const signed = decodeSigned(bytes);
    return signed ? fromBinary(CloudEnvelopeSchema, signed.body).id : new Uint8Array(0);
  } catch {
    return new Uint8Array(0);
  }
}

const iso = (ms: number): string =>
  Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;
