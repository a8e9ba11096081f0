/**
 * One MQTT message from a module's topic, from bytes to a typed report or a drop reason
 * (PROTOCOL.md 16.4): the topic must be exactly one of a module's module → cloud topics and the
 * payload at most 64 KiB (checked before anything is looked up), the module must be registered
 * and active, the envelope signed by THAT module's registered identity key, for that serial, not
 * from the future, not seen before, and its body must belong on the topic. Never throws.
 */
import { bytesEqual, keyIdOf } from '@mini-sharing/shared-protocol/crypto';
import {
  MAX_ENVELOPE_SIZE,
  MODULE_TOPICS,
  ReplayCache,
  bodyBelongsOn,
  breaksLocationRule,
  parseModuleTopic,
  verifyModuleEnvelope,
  type EnvelopeReason,
  type SeenCheck,
} from '@mini-sharing/shared-protocol/link';
import type { ModuleDirectory } from './directory.js';
import type { ModuleReport, ReportMeta } from './reports.js';

export type DropReason =
  | 'bad-topic'
  | 'empty'
  | 'too-large'
  | 'unknown-module'
  | 'module-inactive'
  | 'directory-failed'
  | EnvelopeReason
  | 'unknown-body'
  | 'wrong-topic';

export type IntakeResult =
  | { ok: true; report: ModuleReport }
  | { ok: false; reason: DropReason; message: string; serial?: string };

export interface IntakeContext {
  directory: ModuleDirectory;
  /** The replay check for a module's envelopes. */
  seen: (serial: string) => SeenCheck;
  nowMs: number;
  maxAgeMs?: number;
}

const drop = (reason: DropReason, message: string, serial?: string): IntakeResult => ({
  ok: false,
  reason,
  message,
  ...(serial === undefined ? {} : { serial }),
});

export async function takeModuleMessage(
  topic: string,
  payload: Uint8Array,
  retained: boolean,
  context: IntakeContext,
): Promise<IntakeResult> {
  const parsed = parseModuleTopic(topic);
  if (!parsed || MODULE_TOPICS[parsed.kind].direction !== 'module-to-cloud') {
    return drop('bad-topic', `Not a module → cloud topic: ${topic.slice(0, 200)}`);
  }
  const { serial, kind } = parsed;
  // An empty retained payload is a broker clearing the topic, not a message.
  if (payload.length === 0) return drop('empty', `Empty payload on ${kind}`, serial);
  if (payload.length > MAX_ENVELOPE_SIZE) {
    return drop('too-large', `Payload of ${payload.length} bytes on ${kind}`, serial);
  }
  let module;
  try {
    module = await context.directory.find(serial);
  } catch (error) {
    return drop('directory-failed', `Module lookup failed: ${String(error)}`, serial);
  }
  if (!module) return drop('unknown-module', `No module ${serial} is registered`, serial);
  if (module.access !== 'active') {
    return drop('module-inactive', `Module ${serial} is ${module.access}`, serial);
  }
  const identityKey = module.identityPublicKey;
  const identityKeyId = keyIdOf(identityKey);
  const verdict = await verifyModuleEnvelope(payload, {
    moduleSerial: serial,
    moduleKeys: (keyId) => (bytesEqual(keyId, identityKeyId) ? identityKey : undefined),
    nowMs: context.nowMs,
    ...(context.maxAgeMs === undefined ? {} : { maxAgeMs: context.maxAgeMs }),
    seen: context.seen(serial),
  });
  if (!verdict.ok) return drop(verdict.reason, verdict.message, serial);
  const { envelope } = verdict.value;
  const meta: ReportMeta = {
    serial,
    envelopeId: envelope.id,
    sentAtMs: Number(envelope.timeMs),
    receivedAtMs: context.nowMs,
    retained,
  };
  const { body } = envelope;
  if (body.case === undefined)
    return drop('unknown-body', `A body this cloud does not know`, serial);
  if (!bodyBelongsOn(envelope, kind)) {
    return drop('wrong-topic', `A ${body.case} body does not belong on ${kind}`, serial);
  }
  switch (body.case) {
    case 'presence':
      return { ok: true, report: { ...meta, kind: 'presence', presence: body.value } };
    case 'telemetry': {
      let positionDropped = false;
      if (body.value.position !== undefined && context.directory.runningBooking) {
        let running;
        try {
          running = await context.directory.runningBooking(serial);
        } catch (error) {
          return drop('directory-failed', `Booking lookup failed: ${String(error)}`, serial);
        }
        if (breaksLocationRule(envelope, running)) {
          body.value.position = undefined;
          positionDropped = true;
        }
      }
      return {
        ok: true,
        report: { ...meta, kind: 'telemetry', telemetry: body.value, positionDropped },
      };
    }
    case 'event':
      return { ok: true, report: { ...meta, kind: 'event', event: body.value } };
    case 'commandResult':
      return { ok: true, report: { ...meta, kind: 'command-result', result: body.value } };
  }
}

/**
 * Replay memory per module (ids of module envelopes never expire unless a maximum age is set):
 * one module cannot push another's ids out. The modules heard from least recently are forgotten
 * beyond `modules` (a forgotten module's old envelopes would pass the check again; stores key
 * reports on the envelope id, so a replay is still only a duplicate).
 */
export class ModuleReplayMemory {
  readonly #caches = new Map<string, ReplayCache>();

  constructor(
    private readonly capacity = 1024,
    private readonly modules = 10_000,
  ) {}

  seen(serial: string): SeenCheck {
    let cache = this.#caches.get(serial);
    if (cache) {
      this.#caches.delete(serial);
    } else {
      cache = new ReplayCache(this.capacity);
      if (this.#caches.size >= this.modules) {
        this.#caches.delete(this.#caches.keys().next().value as string);
      }
    }
    this.#caches.set(serial, cache);
    return cache.seen;
  }
}
