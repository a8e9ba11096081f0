/**
 * Builds shared-protocol/vectors/trust.json from fixed test keys, so another implementation can
 * prove it signs and decides as we do. Deterministic (Ed25519 signatures are); a test checks the
 * committed file equals this output.
 */
import { toHex } from '../crypto/bytes.js';
import { strictnessCases } from '../crypto/strictness-cases.js';
import {
  CommandKind,
  HolderRole,
  Permission,
  issueDigitalKey,
  signCommand,
} from './digital-key.js';
import { issueModuleCertificate } from './module-certificate.js';
import { issueRevocationList } from './revocation.js';
import {
  ServiceOperation,
  issueServiceAuthorization,
  proveServiceAuthorization,
} from './service-authorization.js';
import { TEST_NOW_MS, trustFixtures } from './test-fixtures.js';

const HOUR = 3600_000;

export async function buildTrustVectors() {
  const f = await trustFixtures();
  const tokenId = new Uint8Array(16).fill(0x11);
  const challenge = new Uint8Array(32).fill(0x22);
  const key = await issueDigitalKey(f.cloud, {
    tokenId,
    bookingId: 'BK-2026-0001',
    moduleSerial: f.moduleSerial,
    role: HolderRole.DRIVER,
    ownerGeneration: 1,
    devicePublicKey: f.phone.publicKey,
    permissions: [Permission.UNLOCK, Permission.LOCK, Permission.DRIVE],
    notBeforeMs: BigInt(TEST_NOW_MS - HOUR),
    notAfterMs: BigInt(TEST_NOW_MS + 2 * HOUR + 30 * 60_000),
    issuedAtMs: BigInt(TEST_NOW_MS - HOUR),
  });
  const command = (kind: CommandKind, counter: bigint) =>
    signCommand(f.phone, {
      kind,
      moduleSerial: f.moduleSerial,
      tokenId,
      challenge,
      counter,
      expiresAtMs: BigInt(TEST_NOW_MS + 10_000),
    });
  const context = {
    moduleSerial: f.moduleSerial,
    nowMs: TEST_NOW_MS,
    trustedTimeFloorMs: TEST_NOW_MS - HOUR,
    ownerGeneration: 1,
    challenge: { nonce: toHex(challenge), expiresAtMs: TEST_NOW_MS + 5000 },
    lastCounter: '41',
    revokedTokenIds: [] as string[],
  };
  const authorization = await issueServiceAuthorization(f.cloud, {
    authorizationId: new Uint8Array(16).fill(0x33),
    moduleSerial: f.moduleSerial,
    stationPublicKey: f.station.publicKey,
    dealerId: 'DE-MUC-01',
    mechanicId: 'mech-17',
    operations: [ServiceOperation.FLASH, ServiceOperation.PROVISION],
    issuedAtMs: TEST_NOW_MS - 60_000,
    validForMs: 15 * 60_000,
  });

  return {
    about:
      'Test vectors for the MINI Sharing trust formats. All keys are TEST keys derived from public strings; never use them elsewhere. Byte strings are hex; times are ms since the Unix epoch.',
    rules: {
      ed25519:
        'Strict RFC 8032: S < L; A and R canonically encoded (y < p) and not of small order; cofactorless equation [S]B = R + [k]A.',
      signedObject:
        'Signed{body=1, signer_key_id=2, signature=3} in canonical protobuf encoding (fields in order, nothing else); signature = Ed25519 over UTF-8 "mini-sharing/<domain>/v1" + 0x00 + body; key id = first 8 bytes of SHA-256(public key).',
      stationProof:
        'domain "station-proof" over SHA-256(encoded Signed authorization) + challenge (32 bytes) + UTF-8 module serial.',
      commandCheckOrder:
        'malformed-token, unknown-signer, bad-token-signature, wrong-module, clock-below-trusted-time, not-yet-valid, expired, stale-owner-generation, revoked, malformed-command, bad-command-signature, challenge-mismatch, command-expired, missing-permission, replayed-counter',
    },
    ed25519: strictnessCases(),
    keys: {
      rootPublicKey: toHex(f.root.publicKey),
      cloudSigningPublicKey: toHex(f.cloud.publicKey),
      cloudSigningKeyId: toHex(f.cloud.keyId),
      phonePublicKey: toHex(f.phone.publicKey),
      stationPublicKey: toHex(f.station.publicKey),
      modulePublicKey: toHex(f.module.publicKey),
    },
    cloudKeyCertificate: toHex(f.cloudCertificate),
    moduleCertificate: {
      certificate: toHex(
        await issueModuleCertificate(f.cloud, {
          moduleSerial: f.moduleSerial,
          modulePublicKey: f.module.publicKey,
          vin: f.vin,
          issuedAtMs: TEST_NOW_MS,
        }),
      ),
      moduleSerial: f.moduleSerial,
      vin: f.vin,
    },
    commands: {
      digitalKey: toHex(key),
      context,
      cases: [
        { command: toHex(await command(CommandKind.UNLOCK, 42n)), expect: 'accept' },
        { command: toHex(await command(CommandKind.LOCATE, 43n)), expect: 'missing-permission' },
        { command: toHex(await command(CommandKind.LOCK, 41n)), expect: 'replayed-counter' },
      ],
    },
    serviceAuthorization: {
      authorization: toHex(authorization),
      proof: toHex(
        await proveServiceAuthorization(f.station, authorization, challenge, f.moduleSerial),
      ),
      challenge: toHex(challenge),
      nowMs: TEST_NOW_MS,
      operation: 'FLASH',
      expect: 'accept',
    },
    revocationList: {
      list: toHex(
        await issueRevocationList(f.cloud, {
          moduleSerial: f.moduleSerial,
          sequence: 7,
          issuedAtMs: TEST_NOW_MS,
          revoked: [{ tokenId, notAfterMs: TEST_NOW_MS + 3 * HOUR }],
        }),
      ),
      sequence: 7,
      expectRevoked: toHex(tokenId),
    },
  };
}
