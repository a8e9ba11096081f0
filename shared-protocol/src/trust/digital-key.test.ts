import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedSigner } from '../crypto/ed25519.js';
import {
  COMMAND_CHECK_ORDER,
  CommandKind,
  HolderRole,
  Permission,
  issueDigitalKey,
  signCommand,
  verifyCommand,
  type CommandContext,
  type CommandFields,
  type CommandReason,
  type DigitalKeyFields,
} from './digital-key.js';
import { TEST_NOW_MS, testSeed, trustFixtures, type TrustFixtures } from './test-fixtures.js';

const HOUR = 3600_000;
let f: TrustFixtures;
beforeAll(async () => {
  f = await trustFixtures();
});

const tokenId = new Uint8Array(16).fill(7);
const nonce = new Uint8Array(32).fill(3);

function keyFields(overrides: Partial<DigitalKeyFields> = {}): DigitalKeyFields {
  return {
    tokenId,
    bookingId: 'B-1',
    moduleSerial: f.moduleSerial,
    role: HolderRole.DRIVER,
    ownerGeneration: 2,
    devicePublicKey: f.phone.publicKey,
    permissions: [Permission.UNLOCK, Permission.LOCK, Permission.DRIVE],
    notBeforeMs: BigInt(TEST_NOW_MS - HOUR),
    notAfterMs: BigInt(TEST_NOW_MS + HOUR),
    issuedAtMs: BigInt(TEST_NOW_MS - HOUR),
    ...overrides,
  };
}

function commandFields(overrides: Partial<CommandFields> = {}): CommandFields {
  return {
    kind: CommandKind.UNLOCK,
    moduleSerial: f.moduleSerial,
    tokenId,
    challenge: nonce,
    counter: 5n,
    expiresAtMs: BigInt(TEST_NOW_MS + 5000),
    ...overrides,
  };
}

function context(overrides: Partial<CommandContext> = {}): CommandContext {
  return {
    moduleSerial: f.moduleSerial,
    keyRing: f.keyRing,
    nowMs: TEST_NOW_MS,
    trustedTimeFloorMs: TEST_NOW_MS - HOUR,
    ownerGeneration: 2,
    challenge: { nonce, expiresAtMs: TEST_NOW_MS + 3000 },
    lastCounter: () => 4n,
    isRevoked: () => false,
    ...overrides,
  };
}

async function attempt(options: {
  key?: Partial<DigitalKeyFields>;
  command?: Partial<CommandFields>;
  context?: Partial<CommandContext>;
  keySigner?: 'cloud' | 'root' | 'retired';
  commandSigner?: 'phone' | 'other';
  tamper?: 'token' | 'command';
}) {
  const signer = { cloud: f.cloud, root: f.root, retired: f.retiredCloud }[
    options.keySigner ?? 'cloud'
  ];
  const token = await issueDigitalKey(signer, keyFields(options.key));
  const device = options.commandSigner === 'other' ? seedSigner(testSeed('someone else')) : f.phone;
  const command = await signCommand(device, commandFields(options.command));
  if (options.tamper === 'token') token[token.length - 1]! ^= 1;
  if (options.tamper === 'command') command[10]! ^= 1;
  return verifyCommand(token, command, context(options.context));
}

describe('verifyCommand', () => {
  it('accepts a valid key and command', async () => {
    const verdict = await attempt({});
    expect(verdict.ok).toBe(true);
    if (verdict.ok) expect(verdict.value.command.kind).toBe(CommandKind.UNLOCK);
  });

  const cases: Record<CommandReason, Parameters<typeof attempt>[0] | (() => Promise<unknown>)> = {
    'malformed-token': async () =>
      verifyCommand(new Uint8Array([1, 2, 3]), new Uint8Array(), context()),
    'unknown-signer': { keySigner: 'root' },
    'bad-token-signature': { tamper: 'token' },
    'wrong-module': { context: { moduleSerial: 'MSM-OTHER-000002' } },
    'clock-below-trusted-time': { context: { trustedTimeFloorMs: TEST_NOW_MS + 1 } },
    'not-yet-valid': { key: { notBeforeMs: BigInt(TEST_NOW_MS + 1) } },
    expired: { key: { notAfterMs: BigInt(TEST_NOW_MS - 1) } },
    'stale-owner-generation': { context: { ownerGeneration: 3 } },
    revoked: { context: { isRevoked: () => true } },
    'malformed-command': { command: { tokenId: new Uint8Array(16) } },
    'bad-command-signature': { commandSigner: 'other' },
    'challenge-mismatch': { command: { challenge: new Uint8Array(32).fill(9) } },
    'command-expired': { command: { expiresAtMs: BigInt(TEST_NOW_MS - 1) } },
    'missing-permission': { command: { kind: CommandKind.LOCATE } },
    'replayed-counter': { command: { counter: 4n } },
  };

  for (const reason of COMMAND_CHECK_ORDER) {
    it(`refuses with ${reason}`, async () => {
      const setup = cases[reason];
      const verdict = (
        typeof setup === 'function' ? await setup() : await attempt(setup)
      ) as Awaited<ReturnType<typeof verifyCommand>>;
      expect(verdict).toMatchObject({ ok: false, reason });
      if (!verdict.ok) expect(verdict.message.length).toBeGreaterThan(10);
    });
  }

  it('refuses a key signed by a retired cloud key after its validity', async () => {
    expect(await attempt({ keySigner: 'retired' })).toMatchObject({
      ok: false,
      reason: 'unknown-signer',
    });
  });

  it('refuses a challenge that has run out', async () => {
    const verdict = await attempt({
      context: { challenge: { nonce, expiresAtMs: TEST_NOW_MS - 1 } },
    });
    expect(verdict).toMatchObject({ ok: false, reason: 'challenge-mismatch' });
  });

  it('never issues a workshop test key that can drive or lasts long', async () => {
    await expect(
      issueDigitalKey(f.cloud, keyFields({ role: HolderRole.WORKSHOP_TEST })),
    ).rejects.toThrow(/drive/);
    await expect(
      issueDigitalKey(
        f.cloud,
        keyFields({ role: HolderRole.WORKSHOP_TEST, permissions: [Permission.UNLOCK] }),
      ),
    ).rejects.toThrow(/15 minutes/);
  });

  it('never throws on hostile bytes and never accepts them', async () => {
    const token = await issueDigitalKey(f.cloud, keyFields());
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
        async (a, b) => {
          const one = await verifyCommand(a, b, context());
          const two = await verifyCommand(token, b, context());
          expect(one.ok).toBe(false);
          expect(two.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects any single flipped bit in the token or command', async () => {
    const token = await issueDigitalKey(f.cloud, keyFields());
    const command = await signCommand(f.phone, commandFields());
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        async (inToken, at, bit) => {
          const target = (inToken ? token : command).slice();
          target[at % target.length]! ^= 1 << bit;
          const verdict = inToken
            ? await verifyCommand(target, command, context())
            : await verifyCommand(token, target, context());
          expect(verdict.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
