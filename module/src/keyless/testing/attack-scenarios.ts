/**
 * The attacks of issue #7 as scenarios any test world can run: in one process against the real
 * handlers (key-link-attacks.test.ts) and over the virtual air with real bleno and noble
 * (test/keyless-ble.e2e.test.ts). Each sets up what it needs, then runs the attack inside
 * `world.attack`, which counts what the car did meanwhile: every attack must be refused with its
 * result code, its reason must reach the module log, and nothing may actuate.
 */
import type { Signer } from '@mini-sharing/shared-protocol/crypto';
import { ResultCode, type Result } from '@mini-sharing/shared-protocol/gatt';
import { create } from '@mini-sharing/shared-protocol/messages';
import { NewOwnerResetSchema } from '@mini-sharing/shared-protocol/link';
import {
  CommandKind,
  HolderRole,
  SignedSchema,
  decodeSigned,
  encodeSigned,
} from '@mini-sharing/shared-protocol/trust';
import type { AccessController } from '../access-controller.js';
import type { KeyLinkClient } from './key-link-client.js';
import {
  HOUR_MS,
  MINUTE_MS,
  issueTestKey,
  issueTestRevocationList,
  type KeylessFixtures,
  type TestKeyOptions,
} from './fixtures.js';

export interface AttackWorld {
  f: KeylessFixtures;
  controller: AccessController;
  /** A phone connected to the module (a new connection each call). */
  connect(device?: Signer): Promise<{ client: KeyLinkClient; close(): Promise<void> }>;
  /** The module clock (and the phone's) moves on / is set back. */
  advanceClock(ms: number): Promise<void>;
  setClockBack(ms: number): Promise<void>;
  nowMs(): number;
  setKeysInCabin(count: number): Promise<void>;
  /** Every module log line so far. */
  logs(): string[];
  /** Runs the attack step; counts the car's actuations (lock, unlock, immobilizer) meanwhile. */
  attack(step: () => Promise<Result>): Promise<{ result: Result; actuations: number }>;
}

export interface AttackScenario {
  name: string;
  expected: ResultCode;
  /** What the module log must say about it. */
  logged: string;
  run(world: AttackWorld): Promise<{ result: Result; actuations: number }>;
}

/** A key as the cloud issues it now (with the car's current owner generation). */
export function worldKey(world: AttackWorld, options: TestKeyOptions) {
  const ownerGeneration = Math.max(world.f.ownerGeneration, world.controller.ownerGeneration);
  return issueTestKey(world.f, {
    nowMs: world.nowMs(),
    ...options,
    fields: { ownerGeneration, ...options.fields },
  });
}

/**
 * Flips one bit of a Signed object's body so that it still decodes: at `index` (default the last
 * byte: the top of the last varint field).
 */
export function tamperSignedBody(bytes: Uint8Array, index?: number): Uint8Array {
  const signed = decodeSigned(bytes);
  if (!signed) throw new Error('not a signed object');
  const body = signed.body.slice();
  body[index ?? body.length - 1]! ^= 1;
  return encodeSigned(create(SignedSchema, { ...signed, body }));
}

async function presented(world: AttackWorld, token: Uint8Array, device?: Signer) {
  const phone = await world.connect(device);
  const answer = await phone.client.presentKey(token);
  return { ...phone, answer };
}

/** Present `token` and, if it is accepted, send `kind`: the module's result. */
async function presentThenCommand(
  world: AttackWorld,
  token: Uint8Array,
  kind: CommandKind,
  device?: Signer,
) {
  const phone = await presented(world, token, device);
  try {
    return phone.answer.result ?? (await phone.client.command(kind));
  } finally {
    await phone.close();
  }
}

export const ATTACK_SCENARIOS: AttackScenario[] = [
  {
    name: 'a replayed command (the same bytes on a new connection)',
    expected: ResultCode.CHALLENGE_MISMATCH,
    logged: 'challenge-mismatch',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.OWNER });
      const first = await presented(world, key.token);
      const recorded = await first.client.signCommand(CommandKind.UNLOCK);
      await first.client.sendCommand(recorded);
      await first.close();
      const second = await presented(world, key.token);
      try {
        return await world.attack(() => second.client.sendCommand(recorded));
      } finally {
        await second.close();
      }
    },
  },
  {
    name: 'a stale counter',
    expected: ResultCode.REPLAYED_COUNTER,
    logged: 'replayed-counter',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.OWNER });
      const phone = await presented(world, key.token);
      try {
        await phone.client.command(CommandKind.LOCK, { counter: 10n });
        return await world.attack(() => phone.client.command(CommandKind.UNLOCK, { counter: 10n }));
      } finally {
        await phone.close();
      }
    },
  },
  {
    name: 'an expired key',
    expected: ResultCode.EXPIRED,
    logged: 'expired',
    run: async (world) => {
      const nowMs = world.nowMs();
      const key = await worldKey(world, {
        role: HolderRole.OWNER,
        fields: {
          notBeforeMs: BigInt(nowMs - 2 * HOUR_MS),
          issuedAtMs: BigInt(nowMs - 2 * HOUR_MS),
          notAfterMs: BigInt(nowMs - MINUTE_MS),
        },
      });
      return world.attack(() => presentThenCommand(world, key.token, CommandKind.UNLOCK));
    },
  },
  {
    name: 'a key not yet valid',
    expected: ResultCode.NOT_YET_VALID,
    logged: 'not-yet-valid',
    run: async (world) => {
      const key = await worldKey(world, {
        role: HolderRole.DRIVER,
        fields: { notBeforeMs: BigInt(world.nowMs() + HOUR_MS) },
      });
      return world.attack(() => presentThenCommand(world, key.token, CommandKind.UNLOCK));
    },
  },
  {
    name: "another module's key",
    expected: ResultCode.WRONG_MODULE,
    logged: 'wrong-module',
    run: async (world) => {
      const key = await worldKey(world, {
        role: HolderRole.OWNER,
        fields: { moduleSerial: 'MSM-24-009999-1' },
      });
      return world.attack(() => presentThenCommand(world, key.token, CommandKind.UNLOCK));
    },
  },
  {
    name: 'a tampered token',
    expected: ResultCode.BAD_TOKEN_SIGNATURE,
    logged: 'bad-token-signature',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.DRIVER });
      // A bit of the token id (field 1: tag, length, then the 16 bytes); the rest is intact.
      const tampered = tamperSignedBody(key.token, 2);
      return world.attack(() => presentThenCommand(world, tampered, CommandKind.UNLOCK));
    },
  },
  {
    name: 'a tampered command',
    expected: ResultCode.BAD_COMMAND_SIGNATURE,
    logged: 'bad-command-signature',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.OWNER });
      const phone = await presented(world, key.token);
      try {
        const signed = await phone.client.signCommand(CommandKind.UNLOCK);
        return await world.attack(() => phone.client.sendCommand(tamperSignedBody(signed)));
      } finally {
        await phone.close();
      }
    },
  },
  {
    name: 'a key from an unknown signer',
    expected: ResultCode.UNKNOWN_SIGNER,
    logged: 'unknown-signer',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.OWNER, signer: world.f.strangerCloud });
      return world.attack(() => presentThenCommand(world, key.token, CommandKind.UNLOCK));
    },
  },
  {
    name: 'a key revoked by the cloud',
    expected: ResultCode.REVOKED,
    logged: 'revoked',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.DRIVER });
      const sequence = Number(world.controller.revocationListSequence) + 1;
      const list = await issueTestRevocationList(
        world.f,
        sequence,
        [{ tokenId: key.tokenId, notAfterMs: key.notAfterMs }],
        { issuedAtMs: world.nowMs() },
      );
      const applied = await world.controller.applyRevocationList(list);
      if (!applied.ok) throw new Error(`the cloud's list was refused: ${applied.message}`);
      return world.attack(() => presentThenCommand(world, key.token, CommandKind.UNLOCK));
    },
  },
  {
    name: 'a key revoked by a list another phone relayed',
    expected: ResultCode.REVOKED,
    logged: 'revoked',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.DRIVER });
      const sequence = Number(world.controller.revocationListSequence) + 1;
      const list = await issueTestRevocationList(
        world.f,
        sequence,
        [{ tokenId: key.tokenId, notAfterMs: key.notAfterMs }],
        { issuedAtMs: world.nowMs() },
      );
      const relay = await world.connect(world.f.station);
      const relayed = await relay.client.relayRevocationList(list);
      await relay.close();
      if (relayed.code !== ResultCode.OK) throw new Error(`relay refused: ${relayed.message}`);
      return world.attack(() => presentThenCommand(world, key.token, CommandKind.UNLOCK));
    },
  },
  {
    name: 'a command the key does not allow (workshop key, enable drive)',
    expected: ResultCode.MISSING_PERMISSION,
    logged: 'missing-permission',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.WORKSHOP_TEST });
      return world.attack(() =>
        presentThenCommand(world, key.token, CommandKind.ENABLE_DRIVE, world.f.station),
      );
    },
  },
  {
    name: 'the clock set back below the trusted-time floor (an expired key revived)',
    expected: ResultCode.CLOCK_BELOW_TRUSTED_TIME,
    logged: 'clock-below-trusted-time',
    run: async (world) => {
      const nowMs = world.nowMs();
      const synced = await world.controller.timeSync(nowMs);
      if (synced.status !== 'ok') throw new Error(`time sync refused: ${synced.message}`);
      // Expired a minute ago; valid again at the set-back time if the floor did not hold.
      const key = await worldKey(world, {
        role: HolderRole.OWNER,
        fields: {
          notBeforeMs: BigInt(nowMs - 3 * HOUR_MS),
          issuedAtMs: BigInt(nowMs - 3 * HOUR_MS),
          notAfterMs: BigInt(nowMs - MINUTE_MS),
        },
      });
      await world.setClockBack(HOUR_MS);
      try {
        return await world.attack(() => presentThenCommand(world, key.token, CommandKind.UNLOCK));
      } finally {
        await world.advanceClock(HOUR_MS);
      }
    },
  },
  {
    name: 'an old revocation list replayed (to un-revoke a key)',
    expected: ResultCode.REVOCATION_LIST_NOT_NEWER,
    logged: 'not-newer',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.DRIVER });
      const base = Number(world.controller.revocationListSequence);
      const issuedAtMs = world.nowMs();
      const older = await issueTestRevocationList(world.f, base + 1, [], { issuedAtMs });
      const newer = await issueTestRevocationList(
        world.f,
        base + 2,
        [{ tokenId: key.tokenId, notAfterMs: key.notAfterMs }],
        { issuedAtMs },
      );
      await world.controller.applyRevocationList(older);
      await world.controller.applyRevocationList(newer);
      const relay = await world.connect();
      let attacked: { result: Result; actuations: number };
      try {
        attacked = await world.attack(() => relay.client.relayRevocationList(older));
      } finally {
        await relay.close();
      }
      const still = await presentThenCommand(world, key.token, CommandKind.UNLOCK);
      if (still.code !== ResultCode.REVOKED) throw new Error('the rolled-back key opened');
      return attacked;
    },
  },
  {
    name: "a previous owner's key after a new-owner reset",
    expected: ResultCode.STALE_OWNER_GENERATION,
    logged: 'stale-owner-generation',
    run: async (world) => {
      const previousOwner = await worldKey(world, { role: HolderRole.OWNER });
      await world.setKeysInCabin(2);
      const reset = await world.controller.newOwnerReset(
        create(NewOwnerResetSchema, {
          ownerGeneration: Math.max(world.f.ownerGeneration, world.controller.ownerGeneration) + 1,
        }),
      );
      await world.setKeysInCabin(0);
      if (!reset.confirmed) throw new Error(`reset refused: ${reset.reason}`);
      return world.attack(() => presentThenCommand(world, previousOwner.token, CommandKind.UNLOCK));
    },
  },
  {
    name: 'a challenge answered after it ran out (a relayed conversation)',
    expected: ResultCode.CHALLENGE_MISMATCH,
    logged: 'challenge-mismatch',
    run: async (world) => {
      const key = await worldKey(world, { role: HolderRole.OWNER });
      const phone = await presented(world, key.token);
      try {
        const late = await phone.client.signCommand(CommandKind.UNLOCK);
        await world.advanceClock(3_500);
        return await world.attack(() => phone.client.sendCommand(late));
      } finally {
        await phone.close();
      }
    },
  },
];
