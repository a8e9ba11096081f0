/**
 * Issue #7 "done when", end to end with the real firmware: a module booted by the boot loader from
 * a signed image (boot loader and firmware as real processes, the simulated car on its vehicle
 * bus) is provisioned over the serial line with the ServiceClient; its module-link settings point
 * at an in-test MQTT broker (aedes with the module link's access rule), where a test cloud signs
 * commands and checks what the module signs. A test phone (real noble on the virtual BLE air, the
 * module's bleno on the same air) with cloud-format keys opens, drives and locks the car; the car
 * state is read back from the simulated car; the cloud receives the key-used and trip events; a
 * booking the cloud starts over MQTT takes effect (no position while it runs, the driver's key
 * works) and ends; a graceful stop leaves OFFLINE as the module's retained presence; a factory
 * reset says OFFLINE before it wipes and keeps the keyless state that keeps used keys dead.
 *
 * The test cloud signs with the trust fixtures' signing key, certified under the DEVELOPMENT cloud
 * root (build/keys): the root a development build of the firmware pins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { randomBytes } from '@mini-sharing/shared-protocol/crypto';
import { ResultCode, recognitionMaterialFor } from '@mini-sharing/shared-protocol/gatt';
import { CommandStatus, PresenceState, type ModuleEvent } from '@mini-sharing/shared-protocol/link';
import { ProvisioningState, RunMode } from '@mini-sharing/shared-protocol/messages';
import { ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import {
  CommandKind,
  HolderRole,
  ServiceOperation,
  issueCloudKeyCertificate,
  issueModuleCertificate,
  issueServiceAuthorization,
  proveServiceAuthorization,
} from '@mini-sharing/shared-protocol/trust';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { developmentSigner } from '../../build/src/keys.js';
import { startModuleRig, type ModuleRig } from '../sim/index.js';
import { TestCloud, waitFor } from '../src/cloud-link/testing/cloud.js';
import { AccessStateStore } from '../src/keyless/access-state.js';
import { PROVISIONING_RECORD } from '../src/service/identity.js';
import { openModuleStorage } from '../src/storage/index.js';
import {
  TestPhone,
  issueTestKey,
  keylessFixtures,
  type KeylessFixtures,
  type PhoneConnection,
} from '../src/keyless/testing/index.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

let rig: ModuleRig;
let f: KeylessFixtures;
let client: ServiceClient;
let cloud: TestCloud;
let phone: TestPhone;
let moduleSerial: string;
let identityPublicKey: Uint8Array | undefined;

const now = () => rig.car.clock.now();

beforeAll(async () => {
  rig = await startModuleRig({
    factoryImage: await buildFirmwareRelease(RELEASES[0]!),
    ble: true,
    broker: true,
  });
  f = await keylessFixtures();
  const hello = await rig.helloWhen((answer) => answer.runMode === RunMode.APPLICATION);
  moduleSerial = hello.moduleSerial;
  client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'keyless-e2e' });
  await client.connect();
  cloud = await TestCloud.connect({
    url: rig.broker!.url,
    serial: moduleSerial,
    fx: f,
    modulePublicKey: () => identityPublicKey ?? new Uint8Array(32),
    now,
    journal: [],
    password: rig.broker!.cloud.password,
  });
  phone = new TestPhone(rig.ble!.phone, f.phone);
}, 60_000);

afterAll(async () => {
  try {
    phone?.stop();
  } catch {
    // noble never started (an earlier step failed)
  }
  await cloud?.close();
  await rig?.close();
});

function failWithModuleLog(what: string): never {
  throw new Error(`${what}\nmodule log:\n${rig.module.log.slice(-40).join('\n')}`);
}

/** The cloud's events of one kind, in arrival order (first arrivals only). */
function events<K extends NonNullable<ModuleEvent['kind']['case']>>(kind: K) {
  return cloud
    .events()
    .filter((event): event is Extract<ModuleEvent['kind'], { case: K }> => event.case === kind);
}

const until = <T>(probe: () => T | undefined | false, what: string) =>
  waitFor(probe, what, 15_000).catch(() => failWithModuleLog(`timed out waiting for ${what}`));

/** Finds the car by its rotating advertisement and connects, as the phone app does. */
async function connectPhone(): Promise<PhoneConnection> {
  const material = recognitionMaterialFor(f.advertisingSecret, now() - HOUR_MS, now() + DAY_MS);
  const found = await phone.findCar(material, now, 20_000);
  return phone.connect(found.peripheral);
}

async function key(role: HolderRole, options: { bookingId?: string; bookingEndMs?: number } = {}) {
  return issueTestKey(f, { role, nowMs: now(), ...options, fields: { moduleSerial } });
}

const code = async (result: Promise<{ code: ResultCode }>) => ResultCode[(await result).code];

describe('keyless access in the real firmware (issue #7)', () => {
  it('is provisioned over the serial line and comes online at the cloud over MQTT', async () => {
    const cloudSigningKey = await issueCloudKeyCertificate(developmentSigner('cloud-root'), {
      publicKey: f.cloud.publicKey,
      notBeforeMs: now() - 30 * DAY_MS,
      notAfterMs: now() + 365 * DAY_MS,
    });
    const begin = await client.provisionBegin(randomBytes(32));
    identityPublicKey = begin.identityPublicKey;
    const committed = await client.provisionCommit({
      moduleCertificate: await issueModuleCertificate(f.cloud, {
        moduleSerial,
        modulePublicKey: begin.identityPublicKey,
        vin: rig.car.vehicle.identity.vin,
        issuedAtMs: now(),
      }),
      moduleLink: {
        brokerUrl: rig.broker!.url,
        clientId: moduleSerial,
        username: moduleSerial,
        password: rig.broker!.modulePassword,
        caCertificatePem: '',
        cloudSigningKeys: [cloudSigningKey],
        advertisingSecret: f.advertisingSecret,
      },
    });
    expect(committed.provisioningState).toBe(ProvisioningState.PROVISIONED);
    // No reboot: the firmware starts its cloud link and advertising on the commit.
    const online = await until(
      () => cloud.presence().find((p) => p.state === PresenceState.ONLINE),
      'the module ONLINE at the cloud',
    );
    expect(online.firmwareVersion).toBe('1.0.0');
    // The first report of a car with no booking running carries its position.
    await until(() => cloud.telemetry()[0], 'telemetry');
    expect(cloud.telemetry()[0]?.telemetry.position).toBeDefined();
  }, 30_000);

  it("the owner's phone opens, drives and locks the car over BLE; the cloud gets the signed events", async () => {
    const owner = await key(HolderRole.OWNER);
    const connection = await connectPhone();
    try {
      expect((await connection.client.presentKey(owner.token)).result).toBeUndefined();
      expect(await code(connection.client.command(CommandKind.UNLOCK))).toBe('OK');
      expect(rig.car.vehicle.state().locked).toBe(false);
      expect(await code(connection.client.command(CommandKind.ENABLE_DRIVE))).toBe('OK');
      expect(rig.car.vehicle.state().immobilizerReleased).toBe(true);

      // The driver's side: ignition on, engine started with the car's own controls.
      rig.car.vehicle.switchIgnition(true);
      rig.car.vehicle.startEngine();
      expect(rig.car.vehicle.state()).toMatchObject({ ignition: 'on', engineRunning: true });
      await until(() => events('tripStarted')[0], 'the trip to start');
      rig.car.vehicle.park(); // ignition off: the drive ends, the immobilizer is engaged again
      await until(() => !rig.car.vehicle.state().immobilizerReleased, 'the immobilizer engaged');
      await until(() => events('tripEnded')[0], 'the trip to end');

      expect(await code(connection.client.command(CommandKind.LOCK))).toBe('OK');
      expect(rig.car.vehicle.state()).toMatchObject({
        locked: true,
        ignition: 'off',
        engineRunning: false,
        immobilizerReleased: false,
      });
    } finally {
      await connection.disconnect();
    }

    const used = await until(() => {
      const all = events('keyUsed');
      return all.length >= 3 && all;
    }, 'three key-used events');
    expect(used.map((e) => [CommandKind[e.value.command], ResultCode[e.value.result]])).toEqual([
      ['UNLOCK', 'OK'],
      ['ENABLE_DRIVE', 'OK'],
      ['LOCK', 'OK'],
    ]);
    for (const event of used) {
      expect(event.value.tokenId).toEqual(owner.tokenId);
      expect(event.value.role).toBe(HolderRole.OWNER);
    }
    expect(events('tripStarted')[0]?.value.tokenId).toEqual(owner.tokenId);
    // Every report verified against the module's provisioned identity key.
    expect(cloud.rejected).toEqual([]);
  }, 45_000);

  it("a booking the cloud starts over MQTT takes effect: no position while it runs, the driver's key opens", async () => {
    const bookingId = 'BK-E2E-1';
    const bookingEndMs = now() + 2 * HOUR_MS;
    const driver = await key(HolderRole.DRIVER, { bookingId, bookingEndMs });
    const started = await cloud.send({
      case: 'bookingStarted',
      value: {
        bookingId,
        tokenId: driver.tokenId,
        role: HolderRole.DRIVER,
        bookingEndMs: BigInt(bookingEndMs),
      },
    });
    expect(CommandStatus[(await cloud.resultFor(started.id)).status]).toBe('OK');

    const reportsBefore = cloud.telemetry().length;
    await cloud.send({ case: 'telemetryRequest', value: {} });
    await until(() => cloud.telemetry()[reportsBefore], 'telemetry during the booking');

    const connection = await connectPhone();
    try {
      expect((await connection.client.presentKey(driver.token)).result).toBeUndefined();
      expect(await code(connection.client.command(CommandKind.UNLOCK))).toBe('OK');
      expect(rig.car.vehicle.state().locked).toBe(false);
      expect(await code(connection.client.command(CommandKind.LOCK))).toBe('OK');
      expect(rig.car.vehicle.state().locked).toBe(true);
    } finally {
      await connection.disconnect();
    }
    const driverUses = await until(() => {
      const uses = events('keyUsed').filter((e) => e.value.bookingId === bookingId);
      return uses.length >= 2 && uses;
    }, "the driver's key uses");
    expect(driverUses.map((e) => HolderRole[e.value.role])).toEqual(['DRIVER', 'DRIVER']);

    const afterUse = cloud.telemetry().length;
    // Requested, and after the lock and unlock: none while the booking ran had a position.
    const during = cloud.telemetry().slice(reportsBefore, afterUse);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((t) => t.telemetry.position !== undefined)).toEqual([]);
    const ended = await cloud.send({
      case: 'bookingEnded',
      value: { bookingId, tokenId: driver.tokenId, endedAtMs: BigInt(now()) },
    });
    expect(CommandStatus[(await cloud.resultFor(ended.id)).status]).toBe('OK');
    // The booking is over and the car parked: the parking position goes out.
    const parked = await until(
      () =>
        cloud
          .telemetry()
          .slice(afterUse)
          .find((t) => t.telemetry.position),
      'the parking position',
    );
    expect(parked.telemetry.position?.latitudeE7).not.toBe(0);
    expect(cloud.rejected).toEqual([]);
  }, 45_000);

  it('a graceful stop leaves OFFLINE as the retained presence (not the last will); it comes back on power-on', async () => {
    await rig.module.shutdown();
    expect(rig.module.poweredOn).toBe(false);
    await until(() => cloud.presence().at(-1)?.state === PresenceState.OFFLINE, 'OFFLINE presence');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(PresenceState[cloud.presence().at(-1)!.state]).toBe('OFFLINE');

    rig.module.powerOn();
    await until(
      () => cloud.presence().filter((p) => p.state === PresenceState.ONLINE).length === 2,
      'ONLINE again after the restart',
    );
  }, 30_000);

  it('a factory reset takes the module off the cloud (OFFLINE) and keeps what keeps used keys dead', async () => {
    const authorization = await issueServiceAuthorization(f.cloud, {
      authorizationId: randomBytes(16),
      moduleSerial,
      stationPublicKey: f.station.publicKey,
      dealerId: 'DEALER-E2E',
      mechanicId: 'MECH-E2E',
      operations: [ServiceOperation.FACTORY_RESET],
      issuedAtMs: now() - 60_000,
      validForMs: 15 * 60_000,
    });
    await rig.helloWhen((answer) => answer.runMode === RunMode.APPLICATION);
    const station = new ServiceClient({
      session: rig.host,
      clock: systemClock,
      host: 'keyless-e2e',
      signProof: (challenge, serial) =>
        proveServiceAuthorization(f.station, authorization, challenge, serial),
    });
    await station.connect();
    const presenceBefore = cloud.presence().length;
    await station.factoryReset(moduleSerial);
    await until(
      () => cloud.presence().slice(presenceBefore).at(-1)?.state === PresenceState.OFFLINE,
      'OFFLINE before the wipe',
    );
    const back = await rig.helloWhen(
      (answer) => answer.provisioningState === ProvisioningState.UNPROVISIONED,
    );
    expect(back.runMode).toBe(RunMode.APPLICATION);

    await rig.module.powerOff();
    const storage = await openModuleStorage(rig.storageDir);
    try {
      const kept = await new AccessStateStore(storage.records).load();
      // Raised by the keys used above: a clock set back after the reset revives none of them.
      expect(kept.trustedTimeFloorMs).toBeGreaterThan(now() - 2 * DAY_MS);
      expect(kept.counters.length).toBeGreaterThan(0);
      expect(await storage.records.get('link-commands')).toBeDefined();
      expect(await storage.records.get(PROVISIONING_RECORD)).toBeUndefined();
    } finally {
      await storage.close();
    }
  }, 40_000);
});
