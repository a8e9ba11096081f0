/**
 * Test keys for keyless access: shared-protocol's trust fixtures (cloud root and signing key,
 * phone, station), a provisioned identity, and digital keys per role as the cloud would issue
 * them. Tests and benchmarks only.
 */
import { sha256, utf8, type Signer } from '@mini-sharing/shared-protocol/crypto';
import {
  DRIVER_KEY_GRACE_MS,
  HolderRole,
  Permission,
  issueDigitalKey,
  issueModuleCertificate,
  issueRevocationList,
  encodeModuleLinkSettings,
  type DigitalKeyFields,
  type RevocationEntry,
} from '@mini-sharing/shared-protocol/trust';
import {
  TEST_NOW_MS,
  testSeed,
  trustFixtures,
  type TrustFixtures,
} from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { seedSigner } from '@mini-sharing/shared-protocol/crypto';
import { IdentityStore } from '../../service/identity.js';
import type { RecordStore } from '../../storage/index.js';

export { TEST_NOW_MS };
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export interface KeylessFixtures extends TrustFixtures {
  /** The module's 32-byte advertising secret (shared with the cloud). */
  advertisingSecret: Uint8Array;
  /** A cloud signing key the module's ring does not hold. */
  strangerCloud: Signer;
  /** The owner's current owner generation in these fixtures. */
  ownerGeneration: number;
}

export async function keylessFixtures(): Promise<KeylessFixtures> {
  return {
    ...(await trustFixtures()),
    advertisingSecret: sha256(utf8('mini-sharing TEST advertising secret')),
    strangerCloud: seedSigner(testSeed('cloud signing stranger')),
    ownerGeneration: 1,
  };
}

/** Provisions `records` as the module of these fixtures (its identity, ring, secret). */
export async function provisionTestIdentity(
  records: RecordStore,
  f: KeylessFixtures,
): Promise<IdentityStore> {
  const identity = await IdentityStore.open(records, f.root.publicKey);
  const pending = await identity.beginIdentity();
  await identity.commit({
    identityPublicKey: pending.publicKey,
    moduleCertificate: await issueModuleCertificate(f.cloud, {
      moduleSerial: f.moduleSerial,
      modulePublicKey: pending.publicKey,
      vin: f.vin,
      issuedAtMs: TEST_NOW_MS - HOUR_MS,
    }),
    moduleLinkSettings: encodeModuleLinkSettings({
      brokerUrl: 'mqtt://127.0.0.1:1883',
      clientId: f.moduleSerial,
      username: f.moduleSerial,
      password: 'test',
      caCertificatePem: '',
      cloudSigningKeys: [f.cloudCertificate],
      advertisingSecret: f.advertisingSecret,
    }),
    cloudKeyCertificates: [f.cloudCertificate],
  });
  return identity;
}

let tokenCounter = 0;
/** A fresh 16-byte token id (deterministic per process, distinct per call). */
export function newTokenId(): Uint8Array {
  return sha256(utf8(`token ${++tokenCounter}`)).slice(0, 16);
}

export interface TestKeyOptions {
  role: HolderRole;
  /** Default the fixtures' phone (the station for workshop keys). */
  device?: Signer;
  /** A driver's booking: its end; notAfter is that plus 30 minutes. Default now + 2 h. */
  bookingEndMs?: number;
  bookingId?: string;
  signer?: Signer;
  /** The cloud's "now" the key is issued at; default TEST_NOW_MS. */
  nowMs?: number;
  fields?: Partial<DigitalKeyFields>;
}

/** A digital key as the cloud issues it for `role` (see PROTOCOL.md 12 "Digital keys"). */
export async function issueTestKey(
  f: KeylessFixtures,
  options: TestKeyOptions,
): Promise<{ token: Uint8Array; tokenId: Uint8Array; device: Signer; notAfterMs: number }> {
  const role = options.role;
  const device = options.device ?? (role === HolderRole.WORKSHOP_TEST ? f.station : f.phone);
  const tokenId = newTokenId();
  const now = options.nowMs ?? TEST_NOW_MS;
  let window: { notBeforeMs: number; notAfterMs: number; bookingId: string };
  let permissions = [Permission.UNLOCK, Permission.LOCK, Permission.DRIVE, Permission.LOCATE];
  if (role === HolderRole.DRIVER || role === HolderRole.VIP_DRIVER) {
    const end = options.bookingEndMs ?? now + 2 * HOUR_MS;
    window = {
      notBeforeMs: now - HOUR_MS,
      notAfterMs: end + DRIVER_KEY_GRACE_MS,
      bookingId: options.bookingId ?? `booking-${toHexShort(tokenId)}`,
    };
    permissions = [Permission.UNLOCK, Permission.LOCK, Permission.DRIVE];
  } else if (role === HolderRole.WORKSHOP_TEST) {
    window = { notBeforeMs: now - MINUTE_MS, notAfterMs: now + 14 * MINUTE_MS, bookingId: '' };
    permissions = [Permission.UNLOCK, Permission.LOCK];
  } else {
    window = {
      notBeforeMs: now - 24 * HOUR_MS,
      notAfterMs: now + 30 * 24 * HOUR_MS,
      bookingId: '',
    };
  }
  const fields: DigitalKeyFields = {
    tokenId,
    bookingId: window.bookingId,
    moduleSerial: f.moduleSerial,
    role,
    ownerGeneration: f.ownerGeneration,
    devicePublicKey: device.publicKey,
    permissions,
    notBeforeMs: BigInt(window.notBeforeMs),
    notAfterMs: BigInt(window.notAfterMs),
    issuedAtMs: BigInt(window.notBeforeMs),
    ...options.fields,
  };
  const token = await issueDigitalKey(options.signer ?? f.cloud, fields);
  return {
    token,
    tokenId: fields.tokenId as Uint8Array,
    device,
    notAfterMs: Number(fields.notAfterMs),
  };
}

/** A cloud-signed revocation list for the fixtures' module. */
export function issueTestRevocationList(
  f: KeylessFixtures,
  sequence: number,
  revoked: RevocationEntry[],
  options: { moduleSerial?: string; signer?: Signer; issuedAtMs?: number } = {},
): Promise<Uint8Array> {
  return issueRevocationList(options.signer ?? f.cloud, {
    moduleSerial: options.moduleSerial ?? f.moduleSerial,
    sequence,
    issuedAtMs: options.issuedAtMs ?? TEST_NOW_MS,
    revoked,
  });
}

const toHexShort = (bytes: Uint8Array): string =>
  Array.from(bytes.subarray(0, 4), (byte) => byte.toString(16).padStart(2, '0')).join('');
