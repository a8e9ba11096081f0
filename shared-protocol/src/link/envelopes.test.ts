import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { create, toBinary } from '@bufbuild/protobuf';
import { bytesEqual, utf8 } from '../crypto/bytes.js';
import { seedSigner, type Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { decodeSigned, encodeSigned, signObject } from '../trust/signed.js';
import {
  COMMAND_STATUS_FOR_REASON,
  MAX_ENVELOPE_SIZE,
  signCloudEnvelope,
  signModuleEnvelope,
  verifyCloudEnvelope,
  verifyModuleEnvelope,
  type CloudEnvelopeContext,
  type CloudEnvelopeFields,
  type KeyLookup,
  type ModuleEnvelopeContext,
  type ModuleEnvelopeFields,
} from './envelopes.js';
import { CloudEnvelopeSchema, PresenceState } from './payloads.js';
import { ReplayCache } from './replay-cache.js';

const signer = (label: string): Signer => seedSigner(sha256(utf8(label)));
const cloudKey = signer('cloud');
const moduleKey = signer('module');
const stranger = signer('stranger');
const ringOf =
  (...signers: Signer[]): KeyLookup =>
  (keyId) =>
    signers.find((s) => bytesEqual(s.keyId, keyId))?.publicKey;

const flipBit = (bytes: Uint8Array, at: number) => {
  bytes[at] = (bytes[at] as number) ^ 1;
};

const SERIAL = 'MSM-0001';
const NOW = Date.UTC(2025, 5, 1, 12, 0);
const MINUTE = 60_000;

const command = (over: Partial<CloudEnvelopeFields> = {}): CloudEnvelopeFields => ({
  moduleSerial: SERIAL,
  issuedAtMs: NOW,
  expiresAtMs: NOW + 5 * MINUTE,
  body: { case: 'bookingEnded', value: { bookingId: 'b1', endedAtMs: BigInt(NOW) } },
  ...over,
});
const cloudContext = (over: Partial<CloudEnvelopeContext> = {}): CloudEnvelopeContext => ({
  moduleSerial: SERIAL,
  cloudKeys: ringOf(cloudKey),
  nowMs: NOW + 1000,
  ...over,
});
const report = (over: Partial<ModuleEnvelopeFields> = {}): ModuleEnvelopeFields => ({
  moduleSerial: SERIAL,
  timeMs: NOW,
  body: { case: 'presence', value: { state: PresenceState.ONLINE, firmwareVersion: '1.0.0' } },
  ...over,
});
const moduleContext = (over: Partial<ModuleEnvelopeContext> = {}): ModuleEnvelopeContext => ({
  moduleSerial: SERIAL,
  moduleKeys: ringOf(moduleKey),
  nowMs: NOW + 1000,
  ...over,
});

async function cloudReason(payload: Uint8Array, context = cloudContext()) {
  const verdict = await verifyCloudEnvelope(payload, context);
  return verdict.ok ? 'accepted' : verdict.reason;
}
async function moduleReason(payload: Uint8Array, context = moduleContext()) {
  const verdict = await verifyModuleEnvelope(payload, context);
  return verdict.ok ? 'accepted' : verdict.reason;
}

describe('verifyCloudEnvelope', () => {
  it('accepts a good command and hands back its fields', async () => {
    const id = new Uint8Array(16).fill(7);
    const verdict = await verifyCloudEnvelope(
      await signCloudEnvelope(command({ id }), cloudKey),
      cloudContext(),
    );
    expect(verdict.ok && verdict.value.envelope).toMatchObject({
      id,
      moduleSerial: SERIAL,
      issuedAtMs: BigInt(NOW),
      body: { case: 'bookingEnded' },
    });
    expect(verdict.ok && verdict.value.signerKeyId).toEqual(cloudKey.keyId);
  });

  it('malformed: garbage, oversize, a body that is not an envelope, a bad id', async () => {
    expect(await cloudReason(new Uint8Array([1, 2, 3]))).toBe('malformed');
    expect(await cloudReason(new Uint8Array(MAX_ENVELOPE_SIZE + 1))).toBe('malformed');
    const notEnvelope = encodeSigned(
      await signObject('cloud-envelope', new Uint8Array([0xff]), cloudKey),
    );
    expect(await cloudReason(notEnvelope)).toBe('malformed');
    const shortId = toBinary(
      CloudEnvelopeSchema,
      create(CloudEnvelopeSchema, {
        id: new Uint8Array(4),
        moduleSerial: SERIAL,
        issuedAtMs: 1n,
        expiresAtMs: 2n,
      }),
    );
    expect(
      await cloudReason(encodeSigned(await signObject('cloud-envelope', shortId, cloudKey))),
    ).toBe('malformed');
  });

  it('unknown-signer: a key the module does not hold', async () => {
    expect(await cloudReason(await signCloudEnvelope(command(), stranger))).toBe('unknown-signer');
  });

  it('bad-signature: a flipped bit, or a signature made for another domain', async () => {
    const payload = await signCloudEnvelope(command(), cloudKey);
    const signed = decodeSigned(payload)!;
    flipBit(signed.signature, 5);
    expect(await cloudReason(encodeSigned(signed))).toBe('bad-signature');
    const otherDomain = encodeSigned(
      await signObject('module-envelope', decodeSigned(payload)!.body, cloudKey),
    );
    expect(await cloudReason(otherDomain)).toBe('bad-signature');
  });

  it('wrong-module: an envelope for another module', async () => {
    const payload = await signCloudEnvelope(command({ moduleSerial: 'MSM-0002' }), cloudKey);
    expect(await cloudReason(payload)).toBe('wrong-module');
  });

  it('not-yet-valid: issued further in the future than the skew', async () => {
    const at = NOW + 2 * MINUTE;
    const payload = await signCloudEnvelope(
      command({ issuedAtMs: at, expiresAtMs: at + MINUTE }),
      cloudKey,
    );
    expect(await cloudReason(payload)).toBe('not-yet-valid');
    expect(await cloudReason(payload, cloudContext({ skewMs: 3 * MINUTE }))).toBe('accepted');
  });

  it('expired: at or after its expiry', async () => {
    const payload = await signCloudEnvelope(command(), cloudKey);
    expect(await cloudReason(payload, cloudContext({ nowMs: NOW + 5 * MINUTE - 1 }))).toBe(
      'accepted',
    );
    expect(await cloudReason(payload, cloudContext({ nowMs: NOW + 5 * MINUTE }))).toBe('expired');
  });

  it('replayed: the same id twice', async () => {
    const cache = new ReplayCache();
    const payload = await signCloudEnvelope(command(), cloudKey);
    expect(await cloudReason(payload, cloudContext({ seen: cache.seen }))).toBe('accepted');
    expect(await cloudReason(payload, cloudContext({ seen: cache.seen }))).toBe('replayed');
  });

  it('clock-untrusted: only a time sync gets through, and a time sync skips the time checks', async () => {
    const untrusted = cloudContext({ clockTrusted: false, nowMs: 0 });
    expect(await cloudReason(await signCloudEnvelope(command(), cloudKey), untrusted)).toBe(
      'clock-untrusted',
    );
    const sync = await signCloudEnvelope(
      command({ body: { case: 'timeSync', value: { cloudTimeMs: BigInt(NOW) } } }),
      cloudKey,
    );
    expect(await cloudReason(sync, untrusted)).toBe('accepted');
    // A module clock far behind or ahead can still be repaired.
    expect(await cloudReason(sync, cloudContext({ nowMs: NOW - 86_400_000 }))).toBe('accepted');
    expect(await cloudReason(sync, cloudContext({ nowMs: NOW + 86_400_000 }))).toBe('accepted');
    // Still signed, still for this module, still once.
    const cache = new ReplayCache();
    expect(await cloudReason(sync, cloudContext({ seen: cache.seen }))).toBe('accepted');
    expect(await cloudReason(sync, cloudContext({ seen: cache.seen }))).toBe('replayed');
  });

  it('a forged envelope never reaches the replay check', async () => {
    let calls = 0;
    const seen = () => (calls++, false);
    await cloudReason(await signCloudEnvelope(command(), stranger), cloudContext({ seen }));
    await cloudReason(
      await signCloudEnvelope(command({ moduleSerial: 'MSM-0002' }), cloudKey),
      cloudContext({ seen }),
    );
    expect(calls).toBe(0);
  });

  it('never throws: random bytes, damaged payloads, throwing callbacks', async () => {
    const good = await signCloudEnvelope(command(), cloudKey);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
            const copy = good.slice();
            copy[at] = (copy[at] as number) ^ xor;
            return copy;
          }),
        ),
        async (bytes) => {
          const verdict = await verifyCloudEnvelope(bytes, cloudContext());
          expect(verdict.ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
    const throwing = cloudContext({
      cloudKeys: () => {
        throw new Error('ring not loaded');
      },
    });
    expect(await cloudReason(good, throwing)).toBe('malformed');
  });

  it('refuses to sign what no module would accept', async () => {
    await expect(signCloudEnvelope(command({ moduleSerial: 'a/b' }), cloudKey)).rejects.toThrow(
      RangeError,
    );
    await expect(signCloudEnvelope(command({ expiresAtMs: NOW }), cloudKey)).rejects.toThrow(
      RangeError,
    );
    await expect(signCloudEnvelope(command({ id: new Uint8Array(8) }), cloudKey)).rejects.toThrow(
      RangeError,
    );
  });

  it('has a command result status for every reason', () => {
    expect(Object.keys(COMMAND_STATUS_FOR_REASON).sort()).toEqual([
      'bad-signature',
      'clock-untrusted',
      'expired',
      'malformed',
      'not-yet-valid',
      'replayed',
      'unknown-signer',
      'wrong-module',
    ]);
  });
});

describe('verifyModuleEnvelope', () => {
  it('accepts a good report', async () => {
    const verdict = await verifyModuleEnvelope(
      await signModuleEnvelope(report(), moduleKey),
      moduleContext(),
    );
    expect(verdict.ok && verdict.value.envelope.body.case).toBe('presence');
  });

  it('malformed: not a signed envelope', async () => {
    expect(await moduleReason(utf8('{"hello":"world"}'))).toBe('malformed');
  });

  it('unknown-signer: a key not registered for this module', async () => {
    expect(await moduleReason(await signModuleEnvelope(report(), stranger))).toBe('unknown-signer');
  });

  it('bad-signature: a changed body', async () => {
    const signed = decodeSigned(await signModuleEnvelope(report(), moduleKey))!;
    flipBit(signed.body, signed.body.length - 1);
    expect(await moduleReason(encodeSigned(signed))).toBe('bad-signature');
  });

  it('wrong-module: a report naming another serial than its topic', async () => {
    const payload = await signModuleEnvelope(report({ moduleSerial: 'MSM-0002' }), moduleKey);
    expect(await moduleReason(payload)).toBe('wrong-module');
  });

  it('not-yet-valid: sent in the future beyond the skew', async () => {
    const payload = await signModuleEnvelope(report({ timeMs: NOW + 5 * MINUTE }), moduleKey);
    expect(await moduleReason(payload)).toBe('not-yet-valid');
  });

  it('expired: older than maxAgeMs, when the caller sets one', async () => {
    const payload = await signModuleEnvelope(report({ timeMs: NOW - 2 * MINUTE }), moduleKey);
    expect(await moduleReason(payload)).toBe('accepted');
    expect(await moduleReason(payload, moduleContext({ maxAgeMs: MINUTE }))).toBe('expired');
  });

  it('replayed: the same id twice', async () => {
    const cache = new ReplayCache();
    const payload = await signModuleEnvelope(report(), moduleKey);
    expect(await moduleReason(payload, moduleContext({ seen: cache.seen }))).toBe('accepted');
    expect(await moduleReason(payload, moduleContext({ seen: cache.seen }))).toBe('replayed');
  });

  it('a cloud envelope is not a module envelope (domains differ)', async () => {
    const payload = await signCloudEnvelope(command(), moduleKey);
    expect(await moduleReason(payload)).toBe('bad-signature');
  });

  it('never throws on random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        expect((await verifyModuleEnvelope(bytes, moduleContext())).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
