import { beforeAll, describe, expect, it } from 'vitest';
import { seedSigner } from '../crypto/ed25519.js';
import { randomBytes } from '../crypto/bytes.js';
import { CloudKeyRing, issueCloudKeyCertificate, verifyCloudKeyCertificate } from './key-ring.js';
import {
  issueModuleCertificate,
  provisioningNonceInput,
  verifyModuleCertificate,
  verifyProvisioningNonce,
} from './module-certificate.js';
import { encodeModuleLinkSettings, verifyModuleLinkSettings } from './module-link-settings.js';
import {
  activeRevocations,
  issueRevocationList,
  isRevokedBy,
  verifyRevocationList,
} from './revocation.js';
import { TEST_NOW_MS, testSeed, trustFixtures, type TrustFixtures } from './test-fixtures.js';

let f: TrustFixtures;
beforeAll(async () => {
  f = await trustFixtures();
});

describe('cloud key certificates and the key ring', () => {
  it('accepts a certificate by the root and builds a ring of its keys', async () => {
    expect(await verifyCloudKeyCertificate(f.cloudCertificate, f.root.publicKey)).toMatchObject({
      ok: true,
    });
    expect(f.keyRing.lookup(f.cloud.keyId)).toEqual(f.cloud.publicKey);
  });

  it('refuses malformed, not-by-root and tampered certificates', async () => {
    expect(await verifyCloudKeyCertificate(new Uint8Array([1]), f.root.publicKey)).toMatchObject({
      reason: 'malformed',
    });
    const rogue = await issueCloudKeyCertificate(f.cloud, {
      publicKey: seedSigner(testSeed('rogue')).publicKey,
      notBeforeMs: 0,
      notAfterMs: TEST_NOW_MS * 2,
    });
    expect(await verifyCloudKeyCertificate(rogue, f.root.publicKey)).toMatchObject({
      reason: 'not-signed-by-root',
    });
    const tampered = f.cloudCertificate.slice();
    tampered[4]! ^= 1;
    expect(await verifyCloudKeyCertificate(tampered, f.root.publicKey)).toMatchObject({
      reason: 'bad-signature',
    });
    const { ring, rejected } = await CloudKeyRing.fromCertificates(f.root.publicKey, [
      rogue,
      tampered,
    ]);
    expect(ring.signingKeys).toHaveLength(0);
    expect(rejected).toHaveLength(2);
  });
});

describe('module certificate', () => {
  const issue = (overrides: { vin?: string; moduleSerial?: string } = {}) =>
    issueModuleCertificate(f.cloud, {
      moduleSerial: overrides.moduleSerial ?? f.moduleSerial,
      modulePublicKey: f.module.publicKey,
      vin: overrides.vin ?? f.vin,
      issuedAtMs: TEST_NOW_MS,
    });
  const expected = () => ({
    keyRing: f.keyRing,
    moduleSerial: f.moduleSerial,
    modulePublicKey: f.module.publicKey,
    vin: f.vin,
  });

  it('accepts the certificate for this module, key and car', async () => {
    expect(await verifyModuleCertificate(await issue(), expected())).toMatchObject({ ok: true });
  });

  it('refuses with each reason', async () => {
    const good = await issue();
    const tampered = good.slice();
    tampered[6]! ^= 1;
    const byRoot = await issueModuleCertificate(f.root, {
      moduleSerial: f.moduleSerial,
      modulePublicKey: f.module.publicKey,
      vin: f.vin,
      issuedAtMs: TEST_NOW_MS,
    });
    const verdicts = {
      malformed: await verifyModuleCertificate(new Uint8Array(3), expected()),
      'unknown-signer': await verifyModuleCertificate(byRoot, expected()),
      'bad-signature': await verifyModuleCertificate(tampered, expected()),
      'wrong-module': await verifyModuleCertificate(
        await issue({ moduleSerial: 'MSM-X' }),
        expected(),
      ),
      'wrong-key': await verifyModuleCertificate(good, {
        ...expected(),
        modulePublicKey: f.phone.publicKey,
      }),
      'vin-mismatch': await verifyModuleCertificate(good, {
        ...expected(),
        vin: 'WMW11DJ0702T99999',
      }),
    };
    for (const [reason, verdict] of Object.entries(verdicts)) {
      expect(verdict).toMatchObject({ ok: false, reason });
    }
  });

  it('checks the module proof of its identity key over the cloud nonce', async () => {
    const nonce = randomBytes(32);
    const signature = await f.module.sign(provisioningNonceInput(nonce, f.moduleSerial));
    expect(
      await verifyProvisioningNonce(f.module.publicKey, nonce, f.moduleSerial, signature),
    ).toBe(true);
    expect(await verifyProvisioningNonce(f.module.publicKey, nonce, 'MSM-X', signature)).toBe(
      false,
    );
  });
});

describe('revocation list', () => {
  const token = (n: number) => new Uint8Array(16).fill(n);
  const issue = (sequence: number, signer = f.cloud, moduleSerial = f.moduleSerial) =>
    issueRevocationList(signer, {
      moduleSerial,
      sequence,
      issuedAtMs: TEST_NOW_MS,
      revoked: [
        { tokenId: token(1), notAfterMs: TEST_NOW_MS + 1000 },
        { tokenId: token(2), notAfterMs: TEST_NOW_MS - 1000 }, // already expired: left out
      ],
    });
  const context = (currentSequence?: bigint) => ({
    moduleSerial: f.moduleSerial,
    keyRing: f.keyRing,
    currentSequence,
  });

  it('accepts a newer list and leaves out expired entries', async () => {
    const verdict = await verifyRevocationList(await issue(5), context(4n));
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    expect(isRevokedBy(verdict.value, token(1))).toBe(true);
    expect(isRevokedBy(verdict.value, token(2))).toBe(false);
    expect(activeRevocations(verdict.value, TEST_NOW_MS + 2000)).toHaveLength(0);
  });

  it('never rolls back to an older or the same list, and refuses each bad case', async () => {
    const tampered = (await issue(5)).slice();
    tampered[tampered.length - 2]! ^= 1; // inside the signature
    expect(await verifyRevocationList(await issue(5), context(5n))).toMatchObject({
      reason: 'not-newer',
    });
    expect(await verifyRevocationList(await issue(3), context(5n))).toMatchObject({
      reason: 'not-newer',
    });
    expect(await verifyRevocationList(new Uint8Array(2), context())).toMatchObject({
      reason: 'malformed',
    });
    expect(await verifyRevocationList(await issue(6, f.root), context())).toMatchObject({
      reason: 'unknown-signer',
    });
    expect(await verifyRevocationList(tampered, context())).toMatchObject({
      reason: 'bad-signature',
    });
    expect(await verifyRevocationList(await issue(6, f.cloud, 'MSM-X'), context())).toMatchObject({
      reason: 'wrong-module',
    });
  });
});

describe('module-link settings', () => {
  const settings = (
    overrides: {
      brokerUrl?: string;
      clientId?: string;
      keys?: Uint8Array[];
      secret?: Uint8Array;
    } = {},
  ) =>
    encodeModuleLinkSettings({
      brokerUrl: overrides.brokerUrl ?? 'mqtts://broker.example:8883',
      clientId: overrides.clientId ?? f.moduleSerial,
      username: f.moduleSerial,
      password: 'secret',
      caCertificatePem: '',
      cloudSigningKeys: overrides.keys ?? [f.cloudCertificate],
      advertisingSecret: overrides.secret ?? new Uint8Array(32).fill(5),
    });
  const context = () => ({ moduleSerial: f.moduleSerial, rootPublicKey: f.root.publicKey });

  it('accepts valid settings and yields the key ring', async () => {
    const verdict = await verifyModuleLinkSettings(settings(), context());
    expect(verdict.ok && verdict.value.keyRing.signingKeys.length).toBe(1);
  });

  it('refuses each bad case', async () => {
    expect(await verifyModuleLinkSettings(new Uint8Array([0xff]), context())).toMatchObject({
      reason: 'malformed',
    });
    expect(
      await verifyModuleLinkSettings(settings({ brokerUrl: 'http://x' }), context()),
    ).toMatchObject({
      reason: 'bad-broker-url',
    });
    expect(
      await verifyModuleLinkSettings(settings({ clientId: 'other' }), context()),
    ).toMatchObject({
      reason: 'wrong-client-id',
    });
    expect(
      await verifyModuleLinkSettings(settings({ secret: new Uint8Array(16) }), context()),
    ).toMatchObject({ reason: 'bad-advertising-secret' });
    expect(await verifyModuleLinkSettings(settings({ keys: [] }), context())).toMatchObject({
      reason: 'no-valid-cloud-key',
    });
  });
});
