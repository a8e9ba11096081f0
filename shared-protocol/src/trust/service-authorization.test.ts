import { beforeAll, describe, expect, it } from 'vitest';
import { seedSigner } from '../crypto/ed25519.js';
import {
  ServiceOperation,
  issueServiceAuthorization,
  operationForRequest,
  proveServiceAuthorization,
  verifyServiceAuthorization,
  type ServiceAuthorizationContext,
  type ServiceAuthorizationFields,
  type ServiceAuthorizationReason,
} from './service-authorization.js';
import { TEST_NOW_MS, testSeed, trustFixtures, type TrustFixtures } from './test-fixtures.js';

let f: TrustFixtures;
beforeAll(async () => {
  f = await trustFixtures();
});
const challenge = new Uint8Array(32).fill(0x42);

async function attempt(
  options: {
    fields?: Partial<ServiceAuthorizationFields>;
    context?: Partial<ServiceAuthorizationContext>;
    signer?: 'cloud' | 'root';
    prover?: 'station' | 'other';
    provedChallenge?: Uint8Array;
    tamper?: boolean;
  } = {},
) {
  const authorization = await issueServiceAuthorization(
    options.signer === 'root' ? f.root : f.cloud,
    {
      authorizationId: new Uint8Array(16).fill(1),
      moduleSerial: f.moduleSerial,
      stationPublicKey: f.station.publicKey,
      dealerId: 'DE-MUC-01',
      mechanicId: 'mech-17',
      operations: [ServiceOperation.FLASH, ServiceOperation.PROVISION],
      issuedAtMs: TEST_NOW_MS - 60_000,
      validForMs: 15 * 60_000,
      ...options.fields,
    },
  );
  if (options.tamper) authorization[5]! ^= 0x10;
  const prover = options.prover === 'other' ? seedSigner(testSeed('rogue laptop')) : f.station;
  const proof = await proveServiceAuthorization(
    prover,
    authorization,
    options.provedChallenge ?? challenge,
    f.moduleSerial,
  );
  return verifyServiceAuthorization(proof, {
    moduleSerial: f.moduleSerial,
    operation: ServiceOperation.FLASH,
    keyRing: f.keyRing,
    nowMs: TEST_NOW_MS,
    challenge,
    ...options.context,
  });
}

describe('service authorization', () => {
  it('accepts a valid authorization proved by its station', async () => {
    const verdict = await attempt();
    expect(verdict).toMatchObject({ ok: true, value: { signedIssueTimeMs: TEST_NOW_MS - 60_000 } });
  });

  it('lets a module without a clock take the signed issue time', async () => {
    expect(await attempt({ context: { nowMs: undefined } })).toMatchObject({ ok: true });
  });

  const cases: Record<ServiceAuthorizationReason, () => Promise<unknown>> = {
    missing: () =>
      verifyServiceAuthorization(new Uint8Array(), {
        moduleSerial: f.moduleSerial,
        operation: ServiceOperation.FLASH,
        keyRing: f.keyRing,
        nowMs: TEST_NOW_MS,
        challenge,
      }),
    malformed: () =>
      verifyServiceAuthorization(new Uint8Array([0xff, 0xff, 0x01]), {
        moduleSerial: f.moduleSerial,
        operation: ServiceOperation.FLASH,
        keyRing: f.keyRing,
        nowMs: TEST_NOW_MS,
        challenge,
      }),
    'unknown-signer': () => attempt({ signer: 'root' }),
    'bad-signature': () => attempt({ tamper: true }),
    'wrong-module': () => attempt({ context: { moduleSerial: 'MSM-OTHER-000002' } }),
    'operation-not-allowed': () =>
      attempt({ context: { operation: ServiceOperation.FACTORY_RESET } }),
    'not-yet-valid': () => attempt({ context: { nowMs: TEST_NOW_MS - 120_000 } }),
    expired: () => attempt({ context: { nowMs: TEST_NOW_MS + 20 * 60_000 } }),
    'challenge-mismatch': () => attempt({ provedChallenge: new Uint8Array(32).fill(7) }),
    'bad-station-signature': () => attempt({ prover: 'other' }),
  };
  for (const [reason, run] of Object.entries(cases)) {
    it(`refuses with ${reason}`, async () => {
      const verdict = (await run()) as { ok: boolean; reason?: string; message?: string };
      expect(verdict).toMatchObject({ ok: false, reason });
      expect(verdict.message?.length).toBeGreaterThan(10);
    });
  }

  it('never grants more than 30 minutes', async () => {
    await expect(attempt({ fields: { validForMs: 31 * 60_000 } })).rejects.toThrow(/30 minutes/);
  });

  it('maps every state-changing service request to an operation', () => {
    expect(operationForRequest('flashData')).toBe(ServiceOperation.FLASH);
    expect(operationForRequest('factoryReset')).toBe(ServiceOperation.FACTORY_RESET);
    expect(operationForRequest('faultCodesRead')).toBeUndefined();
  });
});
