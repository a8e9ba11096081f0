/**
 * Signed envelopes of the module link, both ways. The broker is not trusted: every MQTT payload
 * is a Signed object (trust/signed.ts) whose body is a CloudEnvelope (domain "cloud-envelope",
 * cloud signing key) or a ModuleEnvelope (domain "module-envelope", module identity key), with
 * an id, the module serial and times, so a payload cannot be forged, redirected to another module
 * or replayed. Verifiers never throw: they accept or give a typed reason.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { randomBytes, toHex } from '../crypto/bytes.js';
import type { Signer } from '../crypto/ed25519.js';
import {
  CloudEnvelopeSchema,
  ModuleEnvelopeSchema,
  type CloudEnvelope,
  type ModuleEnvelope,
} from '../messages/gen/mini/link/v1/envelopes_pb.js';
import { CommandStatus } from '../messages/gen/mini/link/v1/reports_pb.js';
import { decodeSigned, encodeSigned, signObject, verifySignedBy } from '../trust/signed.js';
import type { SeenCheck } from './replay-cache.js';
import { isValidModuleSerial } from './topics.js';

export const ENVELOPE_ID_LENGTH = 16;
/** Larger MQTT payloads on module topics are refused unread. */
export const MAX_ENVELOPE_SIZE = 64 * 1024;
/** How far in the future an envelope's time may be, for clocks that differ a little. */
export const DEFAULT_CLOCK_SKEW_MS = 60_000;

/** Finds the public key for a key id, or undefined when the id is unknown. */
export type KeyLookup = (keyId: Uint8Array) => Uint8Array | undefined;

/** Same shape as trust's Verdict: accept with the value, or a reason and English words. */
export type EnvelopeVerdict<T, Reason extends string> =
  { ok: true; value: T } | { ok: false; reason: Reason; message: string };

export type EnvelopeReason =
  | 'malformed'
  | 'unknown-signer'
  | 'bad-signature'
  | 'wrong-module'
  | 'not-yet-valid'
  | 'expired'
  | 'replayed';
/** `clock-untrusted`: the module's clock is not trusted and the body is not a time sync. */
export type CloudEnvelopeReason = EnvelopeReason | 'clock-untrusted';

/** A body to sign, e.g. `{ case: 'timeSync', value: { cloudTimeMs } }`. */
export type CloudBodyInit = Exclude<
  NonNullable<MessageInitShape<typeof CloudEnvelopeSchema>['body']>,
  { case: undefined }
>;
export type ModuleBodyInit = Exclude<
  NonNullable<MessageInitShape<typeof ModuleEnvelopeSchema>['body']>,
  { case: undefined }
>;

export interface CloudEnvelopeFields {
  /** Default: 16 random bytes. */
  id?: Uint8Array;
  moduleSerial: string;
  issuedAtMs: number;
  expiresAtMs: number;
  body: CloudBodyInit;
}

export interface ModuleEnvelopeFields {
  /** Default: 16 random bytes. */
  id?: Uint8Array;
  moduleSerial: string;
  timeMs: number;
  body: ModuleBodyInit;
}

function checkCommon(id: Uint8Array, serial: string): void {
  if (id.length !== ENVELOPE_ID_LENGTH) throw new RangeError('an envelope id is 16 bytes');
  if (!isValidModuleSerial(serial)) throw new RangeError(`not a valid module serial: ${serial}`);
}

const isTime = (ms: number): boolean => Number.isSafeInteger(ms) && ms >= 0;

/** The cloud's side: sign an envelope for one module; returns the MQTT payload. */
export async function signCloudEnvelope(
  fields: CloudEnvelopeFields,
  signer: Signer,
): Promise<Uint8Array> {
  const id = fields.id ?? randomBytes(ENVELOPE_ID_LENGTH);
  checkCommon(id, fields.moduleSerial);
  if (!isTime(fields.issuedAtMs) || !isTime(fields.expiresAtMs)) {
    throw new RangeError('envelope times are non-negative integer ms');
  }
  if (fields.expiresAtMs <= fields.issuedAtMs) throw new RangeError('expires before issued');
  const envelope = create(CloudEnvelopeSchema, {
    id,
    moduleSerial: fields.moduleSerial,
    issuedAtMs: BigInt(fields.issuedAtMs),
    expiresAtMs: BigInt(fields.expiresAtMs),
    body: fields.body,
  });
  const body = toBinary(CloudEnvelopeSchema, envelope);
  return encodeSigned(await signObject('cloud-envelope', body, signer));
}

/** The module's side: sign a report with the module identity key; returns the MQTT payload. */
export async function signModuleEnvelope(
  fields: ModuleEnvelopeFields,
  signer: Signer,
): Promise<Uint8Array> {
  const id = fields.id ?? randomBytes(ENVELOPE_ID_LENGTH);
  checkCommon(id, fields.moduleSerial);
  if (!isTime(fields.timeMs)) throw new RangeError('envelope time is non-negative integer ms');
  const envelope = create(ModuleEnvelopeSchema, {
    id,
    moduleSerial: fields.moduleSerial,
    timeMs: BigInt(fields.timeMs),
    body: fields.body,
  });
  const body = toBinary(ModuleEnvelopeSchema, envelope);
  return encodeSigned(await signObject('module-envelope', body, signer));
}

const refuse = <R extends string>(reason: R, message: string) =>
  ({ ok: false, reason, message }) as const;

type Opened<T> =
  | { ok: true; envelope: T; signerKeyId: Uint8Array }
  | { ok: false; reason: 'malformed' | 'unknown-signer' | 'bad-signature'; message: string };

/** Size, Signed wrapper, signer, signature, body decode and shape: the checks both ways share. */
async function open<T extends { id: Uint8Array; moduleSerial: string }>(
  domain: 'cloud-envelope' | 'module-envelope',
  bytes: Uint8Array,
  keys: KeyLookup,
  decode: (body: Uint8Array) => T,
): Promise<Opened<T>> {
  if (bytes.length > MAX_ENVELOPE_SIZE) {
    return refuse('malformed', `Payload of ${bytes.length} bytes is over ${MAX_ENVELOPE_SIZE}`);
  }
  const signed = decodeSigned(bytes);
  if (!signed) return refuse('malformed', 'The payload is not a signed object');
  const publicKey = keys(signed.signerKeyId);
  if (!publicKey) {
    return refuse('unknown-signer', `Signed by key ${toHex(signed.signerKeyId)}, not a known one`);
  }
  if (!(await verifySignedBy(domain, signed, publicKey))) {
    return refuse('bad-signature', `The ${domain} signature is not valid`);
  }
  let envelope: T;
  try {
    envelope = decode(signed.body);
  } catch {
    return refuse('malformed', `The ${domain} body does not decode`);
  }
  if (envelope.id.length !== ENVELOPE_ID_LENGTH) {
    return refuse('malformed', `Envelope id of ${envelope.id.length} bytes, not 16`);
  }
  if (!isValidModuleSerial(envelope.moduleSerial)) {
    return refuse('malformed', 'The envelope names no valid module serial');
  }
  return { ok: true, envelope, signerKeyId: signed.signerKeyId };
}

const iso = (ms: number): string =>
  Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;

export interface CloudEnvelopeContext {
  /** This module's serial. */
  moduleSerial: string;
  /** The cloud signing keys the module trusts (certified by the pinned root). */
  cloudKeys: KeyLookup;
  /** Module clock, ms since the epoch. */
  nowMs: number;
  /**
   * False after the module lost its time (below its trusted time floor): then only a time sync
   * is accepted. Default true. A time sync never gets time checks (see below).
   */
  clockTrusted?: boolean;
  /** Default DEFAULT_CLOCK_SKEW_MS. */
  skewMs?: number;
  /** Replay check, called last; without it ids are not checked. */
  seen?: SeenCheck;
}

export interface VerifiedCloudEnvelope {
  /** `envelope.body.case` is undefined for a body this code does not know (a newer cloud). */
  envelope: CloudEnvelope;
  signerKeyId: Uint8Array;
}

/** The module's side: check an MQTT payload from its commands or state topics. Never throws. */
export async function verifyCloudEnvelope(
  bytes: Uint8Array,
  context: CloudEnvelopeContext,
): Promise<EnvelopeVerdict<VerifiedCloudEnvelope, CloudEnvelopeReason>> {
  try {
    const opened = await open('cloud-envelope', bytes, context.cloudKeys, (body) =>
      fromBinary(CloudEnvelopeSchema, body),
    );
    if (!opened.ok) return opened;
    const { envelope } = opened;
    const issuedAtMs = Number(envelope.issuedAtMs);
    const expiresAtMs = Number(envelope.expiresAtMs);
    if (expiresAtMs <= issuedAtMs) return refuse('malformed', 'The envelope expires before issue');
    if (envelope.moduleSerial !== context.moduleSerial) {
      return refuse('wrong-module', `The envelope is for module ${envelope.moduleSerial}`);
    }
    const clockTrusted = context.clockTrusted ?? true;
    // A time sync is what repairs a wrong clock, so it cannot be judged by that clock: it is
    // exempt from the time checks, and the module applies it only at or above its trusted time
    // floor (an old one replayed after the id was forgotten is below the floor).
    if (envelope.body.case !== 'timeSync') {
      if (!clockTrusted) {
        return refuse(
          'clock-untrusted',
          'The module clock is not trusted; waiting for a time sync',
        );
      }
      const skew = context.skewMs ?? DEFAULT_CLOCK_SKEW_MS;
      if (issuedAtMs > context.nowMs + skew) {
        return refuse('not-yet-valid', `Issued at ${iso(issuedAtMs)}, in the future`);
      }
      if (context.nowMs >= expiresAtMs) {
        return refuse('expired', `The envelope expired at ${iso(expiresAtMs)}`);
      }
    }
    const times = { issuedAtMs, expiresAtMs, nowMs: clockTrusted ? context.nowMs : undefined };
    if (context.seen?.(envelope.id, times)) {
      return refuse('replayed', `Envelope ${toHex(envelope.id)} was received before`);
    }
    return { ok: true, value: { envelope, signerKeyId: opened.signerKeyId } };
  } catch (error) {
    // Only a throwing callback (key lookup, replay check) lands here; bytes are handled above.
    return refuse('malformed', `Envelope check failed: ${String(error)}`);
  }
}

export interface ModuleEnvelopeContext {
  /** The serial of the topic it arrived on (which the broker bound to the client id). */
  moduleSerial: string;
  /** The identity key(s) the cloud registered for this serial, and only those. */
  moduleKeys: KeyLookup;
  /** Cloud clock, ms since the epoch. */
  nowMs: number;
  /** Default DEFAULT_CLOCK_SKEW_MS. */
  skewMs?: number;
  /**
   * If set, envelopes older than this are refused as expired. Unset by default: a module queues
   * signed reports while offline and a last will is signed when the module connects.
   */
  maxAgeMs?: number;
  /** Replay check, called last; without it ids are not checked. */
  seen?: SeenCheck;
}

export interface VerifiedModuleEnvelope {
  envelope: ModuleEnvelope;
  signerKeyId: Uint8Array;
}

/** The cloud's side: check an MQTT payload from a module's topic. Never throws. */
export async function verifyModuleEnvelope(
  bytes: Uint8Array,
  context: ModuleEnvelopeContext,
): Promise<EnvelopeVerdict<VerifiedModuleEnvelope, EnvelopeReason>> {
  try {
    const opened = await open('module-envelope', bytes, context.moduleKeys, (body) =>
      fromBinary(ModuleEnvelopeSchema, body),
    );
    if (!opened.ok) return opened;
    const { envelope } = opened;
    if (envelope.moduleSerial !== context.moduleSerial) {
      return refuse('wrong-module', `Module ${envelope.moduleSerial} sent this, not the topic's`);
    }
    const timeMs = Number(envelope.timeMs);
    if (timeMs > context.nowMs + (context.skewMs ?? DEFAULT_CLOCK_SKEW_MS)) {
      return refuse('not-yet-valid', `Sent at ${iso(timeMs)}, in the future`);
    }
    const maxAge = context.maxAgeMs ?? Infinity;
    if (context.nowMs - timeMs > maxAge) {
      return refuse('expired', `Sent at ${iso(timeMs)}, older than ${maxAge} ms`);
    }
    const times = { issuedAtMs: timeMs, expiresAtMs: timeMs + maxAge, nowMs: context.nowMs };
    if (context.seen?.(envelope.id, times)) {
      return refuse('replayed', `Envelope ${toHex(envelope.id)} was received before`);
    }
    return { ok: true, value: { envelope, signerKeyId: opened.signerKeyId } };
  } catch (error) {
    return refuse('malformed', `Envelope check failed: ${String(error)}`);
  }
}

/** The CommandResult status a module reports for a refused cloud envelope. */
export const COMMAND_STATUS_FOR_REASON = {
  malformed: CommandStatus.MALFORMED,
  'unknown-signer': CommandStatus.UNKNOWN_SIGNER,
  'bad-signature': CommandStatus.BAD_SIGNATURE,
  'wrong-module': CommandStatus.WRONG_MODULE,
  'not-yet-valid': CommandStatus.NOT_YET_VALID,
  expired: CommandStatus.EXPIRED,
  replayed: CommandStatus.REPLAYED,
  'clock-untrusted': CommandStatus.CLOCK_UNTRUSTED,
} as const satisfies Record<CloudEnvelopeReason, CommandStatus>;
