/**
 * Fixed test keys and a ready key ring, for this package's tests, vectors and benchmarks and for
 * other parts' tests. Derived from public strings: NEVER use them outside tests.
 */
import { utf8 } from '../crypto/bytes.js';
import { seedSigner, type Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { CloudKeyRing, issueCloudKeyCertificate } from './key-ring.js';

export const testSeed = (name: string): Uint8Array =>
  sha256(utf8(`mini-sharing TEST key: ${name}`));

/** 2026-01-01T00:00:00Z: the fixtures' "now". */
export const TEST_NOW_MS = Date.UTC(2026, 0, 1);
const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface TrustFixtures {
  root: Signer;
  cloud: Signer;
  /** A signing key the root certified for a period that ended a year before TEST_NOW_MS. */
  retiredCloud: Signer;
  cloudCertificate: Uint8Array;
  retiredCloudCertificate: Uint8Array;
  keyRing: CloudKeyRing;
  phone: Signer;
  station: Signer;
  module: Signer;
  moduleSerial: string;
  vin: string;
}

export async function trustFixtures(): Promise<TrustFixtures> {
  const root = seedSigner(testSeed('cloud root'));
  const cloud = seedSigner(testSeed('cloud signing 1'));
  const retiredCloud = seedSigner(testSeed('cloud signing 0'));
  const cloudCertificate = await issueCloudKeyCertificate(root, {
    publicKey: cloud.publicKey,
    notBeforeMs: TEST_NOW_MS - YEAR_MS,
    notAfterMs: TEST_NOW_MS + YEAR_MS,
  });
  const retiredCloudCertificate = await issueCloudKeyCertificate(root, {
    publicKey: retiredCloud.publicKey,
    notBeforeMs: TEST_NOW_MS - 3 * YEAR_MS,
    notAfterMs: TEST_NOW_MS - YEAR_MS,
  });
  const { ring } = await CloudKeyRing.fromCertificates(root.publicKey, [
    cloudCertificate,
    retiredCloudCertificate,
  ]);
  return {
    root,
    cloud,
    retiredCloud,
    cloudCertificate,
    retiredCloudCertificate,
    keyRing: ring,
    phone: seedSigner(testSeed('phone 1')),
    station: seedSigner(testSeed('workshop station 1')),
    module: seedSigner(testSeed('module MSM identity')),
    moduleSerial: 'MSM-24-001234-3',
    vin: 'WMW11DJ0702T12345',
  };
}
