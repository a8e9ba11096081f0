/**
 * The cloud's keys: the development key files, signing key certificates and their windows, what
 * a module's key ring (built from the module-link settings' certificates) accepts before and
 * after rotations, and the key store across restarts.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bytesEqual,
  randomBytes,
  seedSigner,
  toHex,
  type Signer,
} from '@mini-sharing/shared-protocol/crypto';
import { signCloudEnvelope, verifyCloudEnvelope } from '@mini-sharing/shared-protocol/link';
import {
  CloudKeyRing,
  ServiceOperation,
  verifyCloudKeyCertificate,
  verifyModuleCertificate,
  verifyRevocationList,
  type CloudKeyRing as Ring,
} from '@mini-sharing/shared-protocol/trust';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { CloudKeys, openCloudKeys, type RotationResult } from './cloud-keys.js';
import {
  CLOUD_KEY_FILES,
  DEVELOPMENT_KEYS_DIR,
  keyFileDocument,
  loadCloudKeyFiles,
  parseKeyFile,
  readKeyFile,
} from './key-files.js';
import { FileKeyStore, InMemoryKeyStore } from './key-store.js';

const DAY = 24 * 60 * 60 * 1000;
const SERIAL = 'MSM-24-001234-3';
const START_MS = Date.UTC(2026, 2, 1);

let nowMs: number;
const now = () => nowMs;
let root: Signer;
let developmentSigningSeed: Uint8Array;

beforeEach(async () => {
  nowMs = START_MS;
  const files = await loadCloudKeyFiles(DEVELOPMENT_KEYS_DIR);
  root = files.root.signer;
  developmentSigningSeed = files.signing.seed;
});

/** What a module holding these certificates does with a cloud envelope (module intake order). */
async function moduleTakes(
  ring: Ring,
  bytes: Uint8Array,
  moduleNowMs: number,
): Promise<'ok' | string> {
  const verdict = await verifyCloudEnvelope(bytes, {
    moduleSerial: SERIAL,
    cloudKeys: ring.lookup,
    nowMs: moduleNowMs,
  });
  if (!verdict.ok) return verdict.reason;
  const { envelope, signerKeyId } = verdict.value;
  const signer = ring.check(signerKeyId, Number(envelope.issuedAtMs));
  return signer.ok ? 'ok' : signer.reason;
}

const ringOf = async (rootKey: Uint8Array, certificates: Uint8Array[]) =>
  (await CloudKeyRing.fromCertificates(rootKey, certificates)).ring;

async function envelope(keys: CloudKeys) {
  return keys.signCloudEnvelope({
    moduleSerial: SERIAL,
    body: { case: 'telemetryRequest', value: {} },
  });
}

describe('key files', () => {
  it('reads the development root and signing keys from build/keys', async () => {
    const { root: rootKey, signing } = await loadCloudKeyFiles(DEVELOPMENT_KEYS_DIR);
    const documents = await Promise.all(
      [CLOUD_KEY_FILES.root, CLOUD_KEY_FILES.signing].map(async (file) =>
        JSON.parse(await readFile(join(DEVELOPMENT_KEYS_DIR, file), 'utf8')),
      ),
    );
    expect(toHex(rootKey.signer.keyId)).toBe(documents[0].keyId);
    expect(toHex(rootKey.signer.publicKey)).toBe(documents[0].publicKey);
    expect(toHex(signing.signer.keyId)).toBe(documents[1].keyId);
  });

  it('refuses a file whose public key or key id is not its seed’s, or that has no seed', async () => {
    const seed = testSeed('key file');
    const good = keyFileDocument(seed, 'test');
    expect(toHex(parseKeyFile(JSON.stringify(good), 'good.json').signer.publicKey)).toBe(
      good.publicKey,
    );
    const other = toHex(seedSigner(testSeed('other')).publicKey);
    expect(() => parseKeyFile(JSON.stringify({ ...good, publicKey: other }), 'x.json')).toThrow(
      /public key is not the one its seed gives/,
    );
    expect(() => parseKeyFile(JSON.stringify({ ...good, keyId: '0011223344556677' }), 'x')).toThrow(
      /key id/,
    );
    expect(() => parseKeyFile(JSON.stringify({ ...good, seed: 'abcd' }), 'x.json')).toThrow(
      /no 32-byte hex seed/,
    );
    expect(() => parseKeyFile('{', 'broken.json')).toThrow(/broken.json is not JSON/);
    await expect(readKeyFile('/nonexistent/key.json')).rejects.toThrow(/Cannot read the key file/);
  });
});

describe('signing key certificates', () => {
  it('starts with the development signing key as current and a new next key, both certified by the root for their window', async () => {
    const store = new InMemoryKeyStore();
    const keys = await CloudKeys.open({
      root,
      store,
      initialSigningSeed: developmentSigningSeed,
      now,
      signingKeyValidityMs: 365 * DAY,
    });
    expect(keys.current.keyIdHex).toBe(toHex(seedSigner(developmentSigningSeed).keyId));
    expect(keys.next.keyIdHex).not.toBe(keys.current.keyIdHex);
    expect(store.saves).toBe(1);
    const certificates = keys.moduleLinkCertificates();
    expect(certificates).toEqual([keys.current.certificate, keys.next.certificate]);
    for (const [i, certificate] of certificates.entries()) {
      const verdict = await verifyCloudKeyCertificate(certificate, root.publicKey);
      expect(verdict.ok).toBe(true);
      if (!verdict.ok) continue;
      expect(verdict.value.notBeforeMs).toBe(START_MS);
      expect(verdict.value.notAfterMs).toBe(START_MS + 365 * DAY);
      expect(toHex(verdict.value.keyId)).toBe(i === 0 ? keys.current.keyIdHex : keys.next.keyIdHex);
    }
    // A certificate the root issues for any key and window verifies; another root's does not.
    const stranger = seedSigner(testSeed('stranger'));
    const certificate = await keys.issueCloudKeyCertificate(stranger.publicKey, {
      notBeforeMs: START_MS,
      notAfterMs: START_MS + DAY,
    });
    expect((await verifyCloudKeyCertificate(certificate, root.publicKey)).ok).toBe(true);
    const other = await verifyCloudKeyCertificate(certificate, stranger.publicKey);
    expect(other.ok ? 'ok' : other.reason).toBe('not-signed-by-root');
    expect(() =>
      keys.issueCloudKeyCertificate(stranger.publicKey, { notBeforeMs: 5, notAfterMs: 5 }),
    ).toThrow(RangeError);
  });

  it('a module key ring accepts envelopes from the current and the next key, across rotations, and refuses a key outside its window', async () => {
    const keys = await CloudKeys.open({
      root,
      store: new InMemoryKeyStore(),
      initialSigningSeed: developmentSigningSeed,
      now,
      signingKeyValidityMs: 100 * DAY,
    });
    // The module was provisioned with [current, next].
    const held = keys.moduleLinkCertificates();
    let ring = await ringOf(root.publicKey, held);
    const first = keys.current;
    expect(await moduleTakes(ring, (await envelope(keys)).bytes, nowMs)).toBe('ok');

    // Rotation: next signs now. The module knows it already, without any message.
    nowMs += 10 * DAY;
    const rotation: RotationResult = await keys.rotate();
    expect(rotation.current.keyIdHex).toBe(toHex(ring.signingKeys[1]!.keyId));
    expect(keys.previous.map((k) => k.keyIdHex)).toEqual([first.keyIdHex]);
    const afterRotation = await envelope(keys);
    expect(toHex(afterRotation.signerKeyId)).toBe(rotation.current.keyIdHex);
    expect(await moduleTakes(ring, afterRotation.bytes, nowMs)).toBe('ok');
    // The old key stays valid for its window: what it signed before still verifies.
    const certificate = await issueWith(first.keyIdHex, keys, ring);
    expect(certificate).toBe('ok');

    // The module applies the announcement (adds the new next key), as its cloud link does.
    expect(rotation.announcement.value.retiredKeyIds).toEqual([]);
    ring = await ringOf(root.publicKey, [...held, rotation.announcement.value.cloudKeyCertificate]);
    nowMs += 10 * DAY;
    await keys.rotate();
    expect(await moduleTakes(ring, (await envelope(keys)).bytes, nowMs)).toBe('ok');

    // Past the first key's window, nothing it signs is taken, even if the key were stolen.
    const stolen = seedSigner(developmentSigningSeed);
    const late = await signCloudEnvelope(
      {
        moduleSerial: SERIAL,
        issuedAtMs: first.notAfterMs + 1,
        expiresAtMs: first.notAfterMs + DAY,
        body: { case: 'telemetryRequest', value: {} },
      },
      stolen,
    );
    expect(await moduleTakes(ring, late, first.notAfterMs + 2)).toBe('signer-not-valid-then');
    // And a key the module never got (a third rotation it missed) is unknown to it.
    const unknown = await signCloudEnvelope(
      {
        moduleSerial: SERIAL,
        issuedAtMs: nowMs,
        expiresAtMs: nowMs + DAY,
        body: { case: 'telemetryRequest', value: {} },
      },
      seedSigner(testSeed('never certified')),
    );
    expect(await moduleTakes(ring, unknown, nowMs)).toBe('unknown-signer');

    // The cloud itself refuses to sign outside the current key's window.
    expect(() =>
      keys.issueModuleCertificate({
        moduleSerial: SERIAL,
        modulePublicKey: new Uint8Array(32).fill(1),
        vin: 'WMW11DJ0702T12345',
        issuedAtMs: keys.current.notBeforeMs - 1,
      }),
    ).toThrow(/outside signing key/);
  });

  it('retires a former key once its window and the retention are over, and tells modules to drop it', async () => {
    const keys = await CloudKeys.open({
      root,
      store: new InMemoryKeyStore(),
      now,
      signingKeyValidityMs: 10 * DAY,
      retainAfterWindowMs: 5 * DAY,
    });
    // K1 (current) and K2 (next) are certified at the start for 10 days.
    const [k1, k2] = [keys.current, keys.next];
    nowMs = START_MS + 8 * DAY;
    await keys.rotate(); // K2 signs, K3 next (8..18 days)
    nowMs = START_MS + 9 * DAY;
    const k3 = (await keys.rotate()).current; // K3 signs, K4 next
    nowMs = k1.notAfterMs + 5 * DAY; // the end of K1's and K2's retention, not past it
    expect((await keys.rotate()).retiredKeyIds).toEqual([]);
    nowMs += 1;
    const late = await keys.rotate();
    const retired = [k1.keyIdHex, k2.keyIdHex].sort();
    expect(late.retiredKeyIds.map(toHex).sort()).toEqual(retired);
    expect(late.announcement.value.retiredKeyIds.map(toHex).sort()).toEqual(retired);
    expect(keys.previous.map((k) => k.keyIdHex)).toContain(k3.keyIdHex);
    expect(keys.previous.map((k) => k.keyIdHex)).not.toContain(k1.keyIdHex);
  });

  it('signs module certificates, service authorizations and revocation lists with the current key', async () => {
    const keys = await CloudKeys.open({ root, store: new InMemoryKeyStore(), now });
    const ring = await keys.keyRing();
    const module = seedSigner(testSeed('module'));
    const certificate = await keys.issueModuleCertificate({
      moduleSerial: SERIAL,
      modulePublicKey: module.publicKey,
      vin: 'WMW11DJ0702T12345',
    });
    const verdict = await verifyModuleCertificate(certificate, {
      keyRing: ring,
      moduleSerial: SERIAL,
      modulePublicKey: module.publicKey,
      vin: 'WMW11DJ0702T12345',
    });
    expect(verdict.ok).toBe(true);
    const list = await keys.issueRevocationList({ moduleSerial: SERIAL, sequence: 4, revoked: [] });
    const listVerdict = await verifyRevocationList(list, {
      moduleSerial: SERIAL,
      keyRing: ring,
      currentSequence: 3n,
    });
    expect(listVerdict.ok).toBe(true);
    const authorization = await keys.issueServiceAuthorization({
      authorizationId: randomBytes(16),
      moduleSerial: SERIAL,
      stationPublicKey: seedSigner(testSeed('station')).publicKey,
      dealerId: 'dealer-1',
      mechanicId: 'mech-1',
      operations: [ServiceOperation.FLASH],
      validForMs: 60_000,
    });
    expect(authorization.length).toBeGreaterThan(64);
    expect(keys.signer.keyId).toEqual(keys.current.keyId);
  });
});

/** Signs a module certificate as `keyIdHex` did before the rotation and checks it with the ring. */
async function issueWith(keyIdHex: string, keys: CloudKeys, ring: Ring): Promise<string> {
  const { previous } = keys;
  const former = previous.find((k) => k.keyIdHex === keyIdHex);
  if (!former) return 'not kept';
  const check = ring.check(former.keyId, former.notBeforeMs + 1);
  if (!check.ok) return check.reason;
  return bytesEqual(check.key.publicKey, former.publicKey) ? 'ok' : 'other key';
}

describe('key store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloud-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the keys and rotations across restarts in a file only its owner can read', async () => {
    const path = join(dir, 'signing-keys.json');
    const keys = await CloudKeys.open({ root, store: new FileKeyStore(path), now });
    const rotation = await keys.rotate();
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const reopened = await CloudKeys.open({
      root,
      store: new FileKeyStore(path),
      now,
      initialSigningSeed: developmentSigningSeed, // ignored: keys are stored
    });
    expect(reopened.current.keyIdHex).toBe(rotation.current.keyIdHex);
    expect(reopened.next.keyIdHex).toBe(rotation.next.keyIdHex);
    expect(reopened.previous.map((k) => k.keyIdHex)).toEqual(keys.previous.map((k) => k.keyIdHex));
    expect(reopened.current.notAfterMs).toBe(keys.current.notAfterMs);

    // Another root did not certify these keys: refuse to start rather than sign unusable things.
    await expect(
      CloudKeys.open({ root: seedSigner(testSeed('other root')), store: new FileKeyStore(path) }),
    ).rejects.toThrow(/not usable/);
    await writeFile(path, '{"version": 1, "current": {}}');
    await expect(new FileKeyStore(path).load()).rejects.toThrow(
      /not a signing key document|current/,
    );
    expect(await new FileKeyStore(join(dir, 'none.json')).load()).toBeUndefined();
  });

  it('opens from a keys folder: the development root, and the development signing key as the first current key', async () => {
    const keys = await openCloudKeys({
      keysDir: DEVELOPMENT_KEYS_DIR,
      store: new InMemoryKeyStore(),
    });
    expect(toHex(keys.rootPublicKey)).toBe(toHex(root.publicKey));
    expect(keys.current.keyIdHex).toBe(toHex(seedSigner(developmentSigningSeed).keyId));
    await expect(openCloudKeys({ keysDir: dir, store: new InMemoryKeyStore() })).rejects.toThrow(
      /Cannot read the key file/,
    );
  });

  it('rotates at start when the current key’s window is over', async () => {
    const store = new InMemoryKeyStore();
    const keys = await CloudKeys.open({ root, store, now, signingKeyValidityMs: 10 * DAY });
    const { next } = keys;
    nowMs += 11 * DAY;
    const reopened = await CloudKeys.open({ root, store, now, signingKeyValidityMs: 10 * DAY });
    expect(reopened.current.keyIdHex).toBe(next.keyIdHex);
  });
});
