// verifyDigitalKey (a presented key on its own, as a module answers present_token), the
// allowPastNotAfter policy hook, and decodeDigitalKeyUnverified: the same checks and order as
// verifyCommand's first part.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  HolderRole,
  Permission,
  decodeDigitalKeyUnverified,
  issueDigitalKey,
  verifyDigitalKey,
  type DigitalKeyContext,
  type DigitalKeyFields,
} from './digital-key.js';
import { TEST_NOW_MS, trustFixtures, type TrustFixtures } from './test-fixtures.js';

const HOUR = 3600_000;
let f: TrustFixtures;
beforeAll(async () => {
  f = await trustFixtures();
});

const fields = (overrides: Partial<DigitalKeyFields> = {}): DigitalKeyFields => ({
  tokenId: new Uint8Array(16).fill(9),
  bookingId: 'B-1',
  moduleSerial: f.moduleSerial,
  role: HolderRole.DRIVER,
  ownerGeneration: 2,
  devicePublicKey: f.phone.publicKey,
  permissions: [Permission.UNLOCK],
  notBeforeMs: BigInt(TEST_NOW_MS - 2 * HOUR),
  notAfterMs: BigInt(TEST_NOW_MS - HOUR),
  issuedAtMs: BigInt(TEST_NOW_MS - 2 * HOUR),
  ...overrides,
});

const context = (overrides: Partial<DigitalKeyContext> = {}): DigitalKeyContext => ({
  moduleSerial: f.moduleSerial,
  keyRing: f.keyRing,
  nowMs: TEST_NOW_MS,
  trustedTimeFloorMs: TEST_NOW_MS - 3 * HOUR,
  ownerGeneration: 2,
  isRevoked: () => false,
  ...overrides,
});

describe('verifyDigitalKey', () => {
  it('is strict about notAfter unless the module policy lets the key through', async () => {
    const token = await issueDigitalKey(f.cloud, fields());
    expect(await verifyDigitalKey(token, context())).toMatchObject({
      ok: false,
      reason: 'expired',
    });
    const driving = await verifyDigitalKey(token, context({ allowPastNotAfter: () => true }));
    expect(driving).toMatchObject({ ok: true, value: { bookingId: 'B-1' } });
  });

  it('the hook never skips the later checks (revocation, owner generation)', async () => {
    const token = await issueDigitalKey(f.cloud, fields());
    const allow = { allowPastNotAfter: () => true };
    expect(
      await verifyDigitalKey(token, context({ ...allow, isRevoked: () => true })),
    ).toMatchObject({
      reason: 'revoked',
    });
    expect(await verifyDigitalKey(token, context({ ...allow, ownerGeneration: 3 }))).toMatchObject({
      reason: 'stale-owner-generation',
    });
  });

  it('refuses garbage and decodes nothing from it', async () => {
    expect(await verifyDigitalKey(new Uint8Array([1, 2, 3]), context())).toMatchObject({
      reason: 'malformed-token',
    });
    expect(decodeDigitalKeyUnverified(new Uint8Array([1, 2, 3]))).toBeUndefined();
    const token = await issueDigitalKey(f.cloud, fields());
    expect(decodeDigitalKeyUnverified(token)?.role).toBe(HolderRole.DRIVER);
  });
});
