/**
 * For tests: the sharing cloud's part of a workshop visit, built from shared-protocol's trust
 * formats and test keys: it certifies its signing keys (current and next) under a root, answers
 * a module's provisioning proof with the module certificate and the module-link settings, and
 * issues service authorizations to a registered station, which signs the module's challenge with
 * them (the ServiceClient's `signProof`).
 *
 * The root must be the one the module pins: the fixtures' root for in-process modules
 * (service-test-kit.ts), the development root (build/keys) for firmware built by build-firmware.
 */
import { randomBytes, type Signer } from '@mini-sharing/shared-protocol/crypto';
import type { ProvisionBeginResponse } from '@mini-sharing/shared-protocol/messages';
import type { SignProof } from '@mini-sharing/shared-protocol/service-client';
import {
  ServiceOperation,
  issueCloudKeyCertificate,
  issueModuleCertificate,
  issueServiceAuthorization,
  proveServiceAuthorization,
  verifyProvisioningNonce,
} from '@mini-sharing/shared-protocol/trust';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { seedSigner } from '@mini-sharing/shared-protocol/crypto';

const DAY_MS = 24 * 3600_000;

export interface TestCloudOptions {
  /** The cloud root the module pins. */
  root: Signer;
  /** The current signing key (default: the fixtures' "cloud signing 1"). */
  signing?: Signer;
  /** The next signing key, certified from now on too (default: the fixtures' "cloud signing 2"). */
  next?: Signer;
  /** The cloud's clock (the module must agree within the validity windows). */
  now(): number;
}

export interface TestCloud {
  signing: Signer;
  /** The certificates of the current and next signing keys, as the module-link settings carry. */
  signingKeyCertificates: Uint8Array[];
  /**
   * Checks the module's proof over `cloudNonce` and issues its certificate and the module-link
   * settings (what provision_commit carries); throws when the proof does not verify.
   */
  provision(
    begin: ProvisionBeginResponse,
    cloudNonce: Uint8Array,
    vin: string,
  ): Promise<{
    moduleCertificate: Uint8Array;
    moduleLink: {
      brokerUrl: string;
      clientId: string;
      username: string;
      password: string;
      advertisingSecret: Uint8Array;
      cloudSigningKeys: Uint8Array[];
    };
  }>;
  /** A station's `signProof` with a service authorization for `moduleSerial`. */
  stationProof(
    station: Signer,
    moduleSerial: string,
    operations?: ServiceOperation[],
  ): Promise<SignProof>;
}

export async function startTestCloud(options: TestCloudOptions): Promise<TestCloud> {
  const signing = options.signing ?? seedSigner(testSeed('cloud signing 1'));
  const next = options.next ?? seedSigner(testSeed('cloud signing 2'));
  const now = options.now();
  const signingKeyCertificates = [
    await issueCloudKeyCertificate(options.root, {
      publicKey: signing.publicKey,
      notBeforeMs: now - 30 * DAY_MS,
      notAfterMs: now + 365 * DAY_MS,
    }),
    await issueCloudKeyCertificate(options.root, {
      publicKey: next.publicKey,
      notBeforeMs: now,
      notAfterMs: now + 2 * 365 * DAY_MS,
    }),
  ];
  return {
    signing,
    signingKeyCertificates,
    async provision(begin, cloudNonce, vin) {
      const proven = await verifyProvisioningNonce(
        begin.identityPublicKey,
        cloudNonce,
        begin.moduleSerial,
        begin.nonceSignature,
      );
      if (!proven) throw new Error(`module ${begin.moduleSerial} did not prove its identity key`);
      return {
        moduleCertificate: await issueModuleCertificate(signing, {
          moduleSerial: begin.moduleSerial,
          modulePublicKey: begin.identityPublicKey,
          vin,
          issuedAtMs: options.now(),
        }),
        moduleLink: {
          brokerUrl: 'mqtts://broker.mini-sharing.test',
          clientId: begin.moduleSerial,
          username: begin.moduleSerial,
          password: 'test-cloud-password',
          advertisingSecret: randomBytes(32),
          cloudSigningKeys: signingKeyCertificates,
        },
      };
    },
    async stationProof(station, moduleSerial, operations) {
      const authorization = await issueServiceAuthorization(signing, {
        authorizationId: randomBytes(16),
        moduleSerial,
        stationPublicKey: station.publicKey,
        dealerId: 'DEALER-TEST',
        mechanicId: 'MECH-TEST',
        operations: operations ?? [
          ServiceOperation.FLASH,
          ServiceOperation.PROVISION,
          ServiceOperation.ACTUATING_SELF_TEST,
          ServiceOperation.CLEAR_FAULTS,
          ServiceOperation.FACTORY_RESET,
        ],
        issuedAtMs: options.now() - 60_000,
        validForMs: 15 * 60_000,
      });
      return (challenge, serial) =>
        proveServiceAuthorization(station, authorization, challenge, serial);
    },
  };
}
