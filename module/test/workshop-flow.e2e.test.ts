/**
 * The workshop visit end to end (issue #6 "done when"): the host's ServiceClient and FlashSender,
 * the client the workshop app uses, against a simulated module (boot loader and firmware as real
 * processes booted from signed images, the simulated car on its vehicle bus, a virtual serial line
 * with real serialport at both ends). The client negotiates the line up to 921600 baud, flashes
 * 1.1.0 over the factory 1.0.0 as deflate segments, provisions the module with a test cloud,
 * runs every self-test of the catalogue (the actuating ones with a station's service
 * authorization; the car's cellular network too weak and the module's Bluetooth radio broken on
 * purpose), reads the fault codes those failures stored, and clears them with authorization.
 *
 * The test cloud is shared-protocol's trust formats with the fixtures' signing keys, under the
 * DEVELOPMENT cloud root (build/keys): that is the root a development build of the firmware pins,
 * and the fixtures' own root is pinned by no firmware image.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { randomBytes } from '@mini-sharing/shared-protocol/crypto';
import { SELF_TEST_IDS } from '@mini-sharing/shared-protocol/diagnostics';
import {
  BootSlot,
  ErrorCode,
  ProvisioningState,
  RunMode,
  SelfTestOutcome,
  type SelfTestResult,
} from '@mini-sharing/shared-protocol/messages';
import {
  FlashSender,
  ServiceClient,
  type SignProof,
} from '@mini-sharing/shared-protocol/service-client';
import { trustFixtures } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { developmentSigner } from '../../build/src/keys.js';
import { startModuleRig, type ModuleRig } from '../sim/index.js';
import { startTestCloud, type TestCloud } from '../src/service/testing/test-cloud.js';

let rig: ModuleRig;
let update: Uint8Array;
let cloud: TestCloud;
let client: ServiceClient;
let moduleSerial: string;

/** The host's own port, as the workshop app switches it (`setLocalBaudRate`). */
const setHostBaudRate = (baudRate: number) =>
  new Promise<void>((resolve, reject) =>
    rig.port.update({ baudRate }, (error) => (error ? reject(error) : resolve())),
  );

/**
 * HELLO until the firmware answers, then a ServiceClient on the line that raises it to the fastest
 * rate both ends support (or, `stay`, keeps the rate it is at).
 */
async function connect(options: { signProof?: SignProof; stay?: boolean } = {}) {
  await rig.helloWhen((answer) => answer.runMode === RunMode.APPLICATION);
  const next = new ServiceClient({
    session: rig.host,
    clock: systemClock,
    host: 'workshop-e2e',
    ...(options.stay ? {} : { setLocalBaudRate: setHostBaudRate }),
    ...(options.signProof ? { signProof: options.signProof } : {}),
  });
  const connected = await next.connect();
  return { client: next, ...connected };
}

beforeAll(async () => {
  const [factory, next] = await Promise.all([
    buildFirmwareRelease(RELEASES[0]!),
    buildFirmwareRelease(RELEASES[1]!),
  ]);
  update = next;
  rig = await startModuleRig({ factoryImage: factory });
  const fx = await trustFixtures();
  cloud = await startTestCloud({
    root: developmentSigner('cloud-root'),
    signing: fx.cloud,
    now: () => rig.car.clock.now(),
  });
}, 60_000);

afterAll(() => rig?.close());

describe('a workshop visit over the service link', () => {
  it('raises the line to 921600 baud and flashes 1.1.0 over the factory 1.0.0 as deflate', async () => {
    const first = await connect();
    client = first.client;
    expect(first.hello).toMatchObject({
      firmwareVersion: '1.0.0',
      provisioningState: ProvisioningState.UNPROVISIONED,
    });
    expect(first.baud?.baudRate).toBe(921600);
    moduleSerial = first.hello.moduleSerial;

    const result = await new FlashSender(client).flash(update, { compression: 'deflate' });
    expect(result.compression).toBe('deflate');
    expect(result.transferSize).toBeLessThan(update.length / 2);
    expect(result.end.firmwareVersion).toBe('1.1.0');
    expect(result.activate?.trialSlot).toBe(BootSlot.B);

    // The module restarts into the trial at 115200: the host starts over there too.
    await setHostBaudRate(115200);
    await rig.helloWhen((answer) => answer.firmwareVersion === '1.1.0');
    const second = await connect();
    client = second.client;
    expect(second.baud?.baudRate).toBe(921600);
    expect(second.hello).toMatchObject({ firmwareVersion: '1.1.0', activeBootSlot: BootSlot.B });
    // 1.1.0 confirmed itself at start; a confirm from the host is harmless.
    expect(await client.flashConfirm()).toMatchObject({
      confirmedSlot: BootSlot.B,
      firmwareVersion: '1.1.0',
    });
  }, 60_000);

  it('provisions the module: its key proven to the cloud, the certificate and settings stored', async () => {
    const cloudNonce = randomBytes(32);
    const begin = await client.provisionBegin(cloudNonce);
    const vin = rig.car.vehicle.identity.vin;
    expect(begin).toMatchObject({ moduleSerial, vin });
    expect(begin.identityPublicKey).toHaveLength(32);
    const issued = await cloud.provision(begin, cloudNonce, vin);
    expect(await client.provisionCommit(issued)).toMatchObject({
      provisioningState: ProvisioningState.PROVISIONED,
    });
    const info = await client.deviceInfo();
    expect(info.provisioningState).toBe(ProvisioningState.PROVISIONED);
    expect(info.identityPublicKey).toEqual(begin.identityPublicKey);
  }, 30_000);

  it('runs every self-test with the station’s authorization; the failures store fault codes', async () => {
    // Without the station's authorization the actuating tests are refused, and nothing moves.
    const before = rig.car.vehicle.state();
    await expect(client.selfTest(SELF_TEST_IDS, { timeoutMs: 30_000 })).rejects.toMatchObject({
      code: ErrorCode.AUTHORIZATION_REQUIRED,
    });

    const fx = await trustFixtures();
    // The workshop app as the registered station: authorization from the cloud, the module's
    // challenge signed with the station key (once per connection).
    const signProof = await cloud.stationProof(fx.station, moduleSerial);
    ({ client } = await connect({ signProof, stay: true }));
    // On purpose: the car stands where the mobile network is too weak, the module's Bluetooth
    // controller does not come up.
    rig.car.vehicle.setCellularSignal(-118);
    rig.car.bus.radios.setBleRadioWorking(false);

    const { results } = await client.selfTest(SELF_TEST_IDS, { timeoutMs: 30_000 });
    const byId = new Map(results.map((r) => [r.testId, r]));
    expect(results.map((r) => r.testId)).toEqual([...SELF_TEST_IDS]);
    const outcome = (id: string) => SelfTestOutcome[byId.get(id)?.outcome ?? 0];
    expect(Object.fromEntries(SELF_TEST_IDS.map((id) => [id, outcome(id)]))).toEqual({
      'supply-voltage': 'PASSED',
      'vehicle-bus': 'PASSED',
      'central-lock-actuation': 'PASSED',
      'immobilizer-handshake': 'PASSED',
      'ble-radio': 'FAILED',
      'gnss-fix': 'PASSED',
      'cellular-link': 'FAILED',
      'secure-storage': 'PASSED',
    });

    const measured = (id: string): Partial<SelfTestResult> => {
      const r = byId.get(id);
      return {
        measuredValue: r?.measuredValue,
        unit: r?.unit,
        limitMin: r?.limitMin,
        limitMax: r?.limitMax,
        faultCode: r?.faultCode,
      };
    };
    // The charger holds the supply at 13.6 V.
    expect(measured('supply-voltage')).toEqual({
      measuredValue: expect.closeTo(13.6, 1),
      unit: 'V',
      limitMin: 12,
      limitMax: 15,
      faultCode: '',
    });
    for (const [id, limitMax] of [
      ['vehicle-bus', 200],
      ['central-lock-actuation', 1500],
      ['immobilizer-handshake', 500],
      ['gnss-fix', 120],
    ] as const) {
      const value = measured(id);
      expect(value, id).toMatchObject({ limitMax, faultCode: '' });
      expect(value.limitMin, id).toBeUndefined();
      expect(value.measuredValue, id).toBeGreaterThanOrEqual(0);
      expect(value.measuredValue, id).toBeLessThanOrEqual(limitMax);
    }
    expect(measured('vehicle-bus').unit).toBe('ms');
    expect(measured('gnss-fix').unit).toBe('s');
    expect(measured('cellular-link')).toEqual({
      measuredValue: -118,
      unit: 'dBm',
      limitMin: -115,
      limitMax: undefined,
      faultCode: 'U1C60',
    });
    // The radio did not start: nothing measured (no value, unit or limits), the fault stored.
    expect(measured('ble-radio')).toEqual({
      measuredValue: undefined,
      unit: '',
      limitMin: undefined,
      limitMax: undefined,
      faultCode: 'B1C40',
    });
    expect(byId.get('cellular-link')?.detail).toMatch(
      /^-118 dBm \(limit ≥ -115 dBm\);.*U1C60 stored$/,
    );
    expect(measured('secure-storage')).toEqual({
      measuredValue: undefined,
      unit: '',
      limitMin: undefined,
      limitMax: undefined,
      faultCode: '',
    });
    // The lock and immobilizer tests put the car back as it was.
    expect(rig.car.vehicle.state()).toMatchObject({
      locked: before.locked,
      immobilizerReleased: before.immobilizerReleased,
    });
  }, 60_000);

  it('reads the fault codes, clears them with authorization and reads back none', async () => {
    const { faultCodes } = await client.readFaultCodes();
    expect(faultCodes.map((f) => [f.code, f.active, f.occurrences])).toEqual(
      expect.arrayContaining([
        ['B1C40', true, 1],
        ['U1C60', true, 1],
      ]),
    );
    expect(faultCodes).toHaveLength(2);
    expect(faultCodes.find((f) => f.code === 'U1C60')?.description).toMatch(/mobile network/);

    // A host without the station's authorization cannot clear them.
    const unauthorized = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
    await expect(unauthorized.clearFaultCodes()).rejects.toMatchObject({
      code: ErrorCode.AUTHORIZATION_REQUIRED,
    });
    expect((await client.readFaultCodes()).faultCodes).toHaveLength(2);

    expect(await client.clearFaultCodes()).toMatchObject({ cleared: 2 });
    expect((await client.readFaultCodes()).faultCodes).toEqual([]);
  }, 30_000);
});
