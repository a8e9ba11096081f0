import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, ProvisioningState } from '@mini-sharing/shared-protocol/messages';
import { randomBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  issueCloudKeyCertificate,
  issueModuleCertificate,
  verifyProvisioningNonce,
} from '@mini-sharing/shared-protocol/trust';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import type { ModuleHal } from '../hal/index.js';
import { createDeviceService } from '../firmware/device-service.js';
import { IdentityStore } from './identity.js';
import {
  authorize,
  moduleLink,
  openServiceKit,
  provision,
  refusal,
  snapshot,
  type ServiceKit,
} from './service-test-kit.js';

let kit: ServiceKit;
beforeEach(async () => {
  kit = await openServiceKit();
});
afterEach(() => kit.close());

describe('provisioning', () => {
  it('generates the identity on the module, proves it and stores what the cloud issued', async () => {
    const { fx, host } = kit;
    expect(kit.identity.state).toBe(ProvisioningState.UNPROVISIONED);
    const cloudNonce = randomBytes(32);
    const begin = await host.request('provisionBegin', { cloudNonce });
    expect(begin.moduleSerial).toBe(fx.moduleSerial);
    expect(begin.vin).toBe(fx.vin);
    expect(
      await verifyProvisioningNonce(
        begin.identityPublicKey,
        cloudNonce,
        fx.moduleSerial,
        begin.nonceSignature,
      ),
    ).toBe(true);
    expect(kit.identity.state).toBe(ProvisioningState.PENDING);
    expect(kit.identity.identityPublicKey).toHaveLength(0);

    const certificate = await issueModuleCertificate(fx.cloud, {
      moduleSerial: fx.moduleSerial,
      modulePublicKey: begin.identityPublicKey,
      vin: fx.vin,
      issuedAtMs: TEST_NOW_MS,
    });
    const commit = await host.request('provisionCommit', {
      moduleCertificate: certificate,
      moduleLink: moduleLink(fx),
    });
    expect(commit.provisioningState).toBe(ProvisioningState.PROVISIONED);
    expect(kit.identity.identityPublicKey).toEqual(begin.identityPublicKey);

    // After a restart: the same identity, certificate and key ring; the seed was never sent.
    const reopened = await IdentityStore.open(kit.storage.records, fx.root.publicKey);
    expect(reopened.state).toBe(ProvisioningState.PROVISIONED);
    expect(reopened.identityPublicKey).toEqual(begin.identityPublicKey);
    expect(reopened.provisioned?.moduleCertificate).toEqual(certificate);
    expect(reopened.provisioned?.keyRing.signingKeys.map((k) => toHex(k.publicKey))).toEqual([
      toHex(fx.cloud.publicKey),
    ]);
  });

  it('reports the provisioning state and identity key in hello and device info', async () => {
    const { fx } = kit;
    const device = createDeviceService({
      config: {
        moduleSerial: fx.moduleSerial,
        hardwareRevision: 'MSM-HW-2',
        storageDir: kit.dir,
        serialPort: '/dev/null',
        vehicleBus: '/dev/null',
      },
      hal: {
        supply: { readMillivolts: async () => 12_600 },
        clock: { now: () => TEST_NOW_MS },
      } as unknown as ModuleHal,
      firmwareVersion: '1.0.0',
      runningSlot: 'A',
      startedAt: Date.now(),
      identity: kit.identity,
    });
    const context = {} as never;
    const info = async () => {
      const value = await device.deviceInfo?.({} as never, context);
      return { state: value?.provisioningState, key: value?.identityPublicKey };
    };
    expect(await info()).toEqual({
      state: ProvisioningState.UNPROVISIONED,
      key: new Uint8Array(0),
    });
    const begin = await provision(kit);
    expect(await info()).toEqual({
      state: ProvisioningState.PROVISIONED,
      key: begin.identityPublicKey,
    });
    const hello = await device.hello?.({} as never, context);
    expect(hello?.provisioningState).toBe(ProvisioningState.PROVISIONED);
  });

  it('forgets everything at a factory reset', async () => {
    await provision(kit);
    await kit.identity.reset();
    expect(kit.identity.state).toBe(ProvisioningState.UNPROVISIONED);
    const reopened = await IdentityStore.open(kit.storage.records, kit.fx.root.publicKey);
    expect(reopened.state).toBe(ProvisioningState.UNPROVISIONED);
    expect(reopened.identityPublicKey).toHaveLength(0);
  });

  it('refuses a car without a 5GE sharing interface and stores nothing', async () => {
    kit.car.vin = undefined;
    const before = await snapshot(kit.dir);
    const error = await refusal(
      kit.host.request('provisionBegin', { cloudNonce: randomBytes(32) }),
    );
    expect(error.code).toBe(ErrorCode.NO_SHARING_INTERFACE);
    expect(await snapshot(kit.dir)).toEqual(before);
    expect(kit.identity.state).toBe(ProvisioningState.UNPROVISIONED);
  });

  it('refuses a short nonce and a commit without a begin', async () => {
    const short = await refusal(
      kit.host.request('provisionBegin', { cloudNonce: new Uint8Array(4) }),
    );
    expect(short.code).toBe(ErrorCode.BAD_REQUEST);
    const certificate = await issueModuleCertificate(kit.fx.cloud, {
      moduleSerial: kit.fx.moduleSerial,
      modulePublicKey: kit.fx.module.publicKey,
      vin: kit.fx.vin,
      issuedAtMs: TEST_NOW_MS,
    });
    const early = await refusal(
      kit.host.request('provisionCommit', {
        moduleCertificate: certificate,
        moduleLink: moduleLink(kit.fx),
      }),
    );
    expect(early.code).toBe(ErrorCode.BAD_REQUEST);
    expect(kit.identity.state).toBe(ProvisioningState.UNPROVISIONED);
  });

  it('refuses every bad commit and changes nothing', async () => {
    const { fx, host } = kit;
    const begin = await host.request('provisionBegin', { cloudNonce: randomBytes(32) });
    const certificate = (fields: { serial?: string; key?: Uint8Array; vin?: string } = {}) =>
      issueModuleCertificate(fx.cloud, {
        moduleSerial: fields.serial ?? fx.moduleSerial,
        modulePublicKey: fields.key ?? begin.identityPublicKey,
        vin: fields.vin ?? fx.vin,
        issuedAtMs: TEST_NOW_MS,
      });
    // A cloud key certified by a key that is not the pinned root.
    const rogueKey = await issueCloudKeyCertificate(fx.cloud, {
      publicKey: fx.phone.publicKey,
      notBeforeMs: TEST_NOW_MS - 1000,
      notAfterMs: TEST_NOW_MS + 1e9,
    });
    const cases: Array<[string, ErrorCode, () => Promise<object>]> = [
      [
        'no settings',
        ErrorCode.BAD_REQUEST,
        async () => ({ moduleCertificate: await certificate() }),
      ],
      [
        'client id is not the serial',
        ErrorCode.BAD_REQUEST,
        async () => ({
          moduleCertificate: await certificate(),
          moduleLink: { ...moduleLink(fx), clientId: 'MSM-24-999999-9' },
        }),
      ],
      [
        'bad broker URL',
        ErrorCode.BAD_REQUEST,
        async () => ({
          moduleCertificate: await certificate(),
          moduleLink: { ...moduleLink(fx), brokerUrl: 'http://broker' },
        }),
      ],
      [
        'cloud key not certified by the pinned root',
        ErrorCode.CERTIFICATE_INVALID,
        async () => ({
          moduleCertificate: await certificate(),
          moduleLink: moduleLink(fx, [rogueKey]),
        }),
      ],
      [
        'certificate for another module',
        ErrorCode.CERTIFICATE_INVALID,
        async () => ({
          moduleCertificate: await certificate({ serial: 'MSM-24-000001-1' }),
          moduleLink: moduleLink(fx),
        }),
      ],
      [
        'certificate for another key',
        ErrorCode.CERTIFICATE_INVALID,
        async () => ({
          moduleCertificate: await certificate({ key: fx.module.publicKey }),
          moduleLink: moduleLink(fx),
        }),
      ],
      [
        'certificate for another car',
        ErrorCode.VIN_MISMATCH,
        async () => ({
          moduleCertificate: await certificate({ vin: 'WMW11DJ0702T99999' }),
          moduleLink: moduleLink(fx),
        }),
      ],
      [
        'certificate signed by an unknown key',
        ErrorCode.CERTIFICATE_INVALID,
        async () => ({
          moduleCertificate: await issueModuleCertificate(fx.phone, {
            moduleSerial: fx.moduleSerial,
            modulePublicKey: begin.identityPublicKey,
            vin: fx.vin,
            issuedAtMs: TEST_NOW_MS,
          }),
          moduleLink: moduleLink(fx),
        }),
      ],
      [
        'certificate garbage',
        ErrorCode.CERTIFICATE_INVALID,
        async () => ({ moduleCertificate: new Uint8Array([1, 2, 3]), moduleLink: moduleLink(fx) }),
      ],
    ];
    const before = await snapshot(kit.dir);
    for (const [name, code, request] of cases) {
      const error = await refusal(host.request('provisionCommit', await request()));
      expect({ name, code: ErrorCode[error.code] }).toEqual({ name, code: ErrorCode[code] });
      expect(await snapshot(kit.dir)).toEqual(before);
      expect(kit.identity.state).toBe(ProvisioningState.PENDING);
    }
    // The pending identity is still good for a correct commit.
    const commit = await host.request('provisionCommit', {
      moduleCertificate: await certificate(),
      moduleLink: moduleLink(fx),
    });
    expect(commit.provisioningState).toBe(ProvisioningState.PROVISIONED);
  });

  it('keeps the old identity until a re-provisioning commits', async () => {
    const first = await provision(kit);
    const { fx } = kit;
    const proof = await authorize(kit);
    const again = await kit.host.request(
      'provisionBegin',
      { cloudNonce: randomBytes(32) },
      { serviceAuthorization: proof },
    );
    expect(kit.identity.state).toBe(ProvisioningState.PROVISIONED);
    expect(kit.identity.identityPublicKey).toEqual(first.identityPublicKey);
    const certificate = await issueModuleCertificate(fx.cloud, {
      moduleSerial: fx.moduleSerial,
      modulePublicKey: again.identityPublicKey,
      vin: fx.vin,
      issuedAtMs: TEST_NOW_MS,
    });
    await kit.host.request(
      'provisionCommit',
      { moduleCertificate: certificate, moduleLink: moduleLink(fx) },
      { serviceAuthorization: proof },
    );
    expect(kit.identity.identityPublicKey).toEqual(again.identityPublicKey);
  });
});
