/**
 * The firmware's sharing parts wired together in one process: the real AccessController (no BLE)
 * as the cloud link's command target over an in-process aedes broker with the test cloud, the
 * fault memory as its fault source. What the module does at the car reaches the cloud as signed
 * events (also what opening settles after a power cut, before any link runs); what the cloud
 * sends takes effect at the car; provisioning and a factory reset start and stop the link.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '@mini-sharing/shared-protocol/crypto';
import { ResultCode } from '@mini-sharing/shared-protocol/gatt';
import {
  AccessEndAction,
  CommandStatus,
  PresenceState,
  type ModuleEvent,
} from '@mini-sharing/shared-protocol/link';
import {
  HolderRole,
  encodeModuleLinkSettings,
  issueModuleCertificate,
} from '@mini-sharing/shared-protocol/trust';
import { MODULE_PASSWORD, startTestBroker, type TestBroker } from '../cloud-link/testing/broker.js';
import { TestCloud, waitFor } from '../cloud-link/testing/cloud.js';
import { FakeCar, TestModuleClock } from '../cloud-link/testing/fakes.js';
import { TEST_LINK_OPTIONS } from '../cloud-link/testing/rig.js';
import { AccessStateStore, emptyAccessState } from '../keyless/access-state.js';
import type { AccessEvent } from '../keyless/index.js';
import {
  FakeVehicle,
  TEST_NOW_MS,
  keylessFixtures,
  newTokenId,
  type KeylessFixtures,
} from '../keyless/testing/index.js';
import { FaultMemory } from '../service/fault-codes.js';
import { IdentityStore } from '../service/identity.js';
import { RecordStore } from '../storage/index.js';
import { AccessReportHold } from './cloud-access.js';
import { startSharing, type Sharing } from './sharing.js';

const HOUR = 3_600_000;

let f: KeylessFixtures;
let broker: TestBroker;
let dir: string;
let records: RecordStore;
let identity: IdentityStore;
let faults: FaultMemory;
let cloud: TestCloud;
let sharing: Sharing | undefined;
const clock = () => world.clock;
const world = { clock: new TestModuleClock(TEST_NOW_MS), vehicle: new FakeVehicle() };
const logs: string[] = [];

beforeEach(async () => {
  f = await keylessFixtures();
  broker = await startTestBroker();
  dir = await mkdtemp(join(tmpdir(), 'firmware-sharing-'));
  records = await RecordStore.open(join(dir, 'records'));
  identity = await IdentityStore.open(records, f.root.publicKey);
  world.clock = new TestModuleClock(TEST_NOW_MS);
  world.vehicle = new FakeVehicle();
  faults = await FaultMemory.open(records, { now: () => clock().now() });
  cloud = await TestCloud.connect({
    url: broker.url,
    serial: f.moduleSerial,
    fx: f,
    modulePublicKey: () => identity.identityPublicKey ?? new Uint8Array(32),
    now: () => clock().now(),
    journal: [],
  });
  logs.length = 0;
});

afterEach(async () => {
  await sharing?.close();
  sharing = undefined;
  await cloud.close();
  await broker.close();
  await rm(dir, { recursive: true, force: true });
});

async function provision(): Promise<void> {
  const pending = await identity.beginIdentity();
  await identity.commit({
    identityPublicKey: pending.publicKey,
    moduleCertificate: await issueModuleCertificate(f.cloud, {
      moduleSerial: f.moduleSerial,
      modulePublicKey: pending.publicKey,
      vin: f.vin,
      issuedAtMs: TEST_NOW_MS - HOUR,
    }),
    moduleLinkSettings: encodeModuleLinkSettings({
      brokerUrl: broker.url,
      clientId: f.moduleSerial,
      username: f.moduleSerial,
      password: MODULE_PASSWORD,
      caCertificatePem: '',
      cloudSigningKeys: [f.cloudCertificate],
      advertisingSecret: f.advertisingSecret,
    }),
    cloudKeyCertificates: [f.cloudCertificate],
  });
}

async function start(): Promise<Sharing> {
  const car = new FakeCar();
  sharing = await startSharing({
    config: { moduleSerial: f.moduleSerial },
    records,
    hal: { vehicle: world.vehicle, gnss: car.gnss, supply: car.supply, clock: clock() },
    stores: { identity, faults },
    log: (level, component, message) => logs.push(`${level} ${component}: ${message}`),
    firmwareVersion: '9.9.9-test',
    ble: false,
    linkOptions: { ...TEST_LINK_OPTIONS, stateSettleMs: 50 },
  });
  return sharing;
}

const online = () =>
  waitFor(() => sharing?.link?.status.state === 'online', 'the cloud link to be online');

function eventOf<K extends NonNullable<ModuleEvent['kind']['case']>>(kind: K) {
  return waitFor(
    () =>
      cloud.events().find((event): event is Extract<ModuleEvent['kind'], { case: K }> => {
        return event.case === kind;
      }),
    `a ${kind} event at the cloud`,
  );
}

describe("the firmware's sharing parts", () => {
  it('reports what opening settles after a power cut, before any link ran: the drive that ended while the module was off', async () => {
    await provision();
    const tokenId = newTokenId();
    // The module lost power mid-trip; the car was parked and switched off meanwhile.
    await new AccessStateStore(records).save({
      ...emptyAccessState(),
      currentDrive: {
        tokenId: toHex(tokenId),
        bookingId: 'booking-power-cut',
        role: HolderRole.DRIVER,
        notAfterMs: TEST_NOW_MS + HOUR,
        enabledAtMs: TEST_NOW_MS - HOUR,
        moving: true,
      },
    });
    await start();
    const ended = await eventOf('tripEnded');
    expect(ended.value).toMatchObject({ bookingId: 'booking-power-cut', tokenId });
    expect(world.vehicle.actuations).toContain('engage-immobilizer');
  });

  it('sends key uses and stored fault codes as signed events; a booking the cloud starts runs at the car, once', async () => {
    await provision();
    const { keyless } = await start();
    await online();

    const refused = await keyless.controller.presentKey(utf8('not a digital key'));
    expect(refused.ok).toBe(false);
    const used = await eventOf('keyUsed');
    expect(used.value.result).not.toBe(ResultCode.OK);

    await faults.update({ detected: ['B1C42'] });
    expect((await eventOf('faultCodeStored')).value).toMatchObject({
      code: 'B1C42',
      active: true,
      occurrences: 1,
    });

    const tokenId = newTokenId();
    const started = {
      case: 'bookingStarted',
      value: {
        bookingId: 'booking-7',
        tokenId,
        role: HolderRole.DRIVER,
        bookingEndMs: BigInt(TEST_NOW_MS + 2 * HOUR),
      },
    } as const;
    const first = await cloud.send(started);
    expect(CommandStatus[(await cloud.resultFor(first.id)).status]).toBe('OK');
    expect(keyless.controller.runningBooking).toMatchObject({ bookingId: 'booking-7', tokenId });
    const again = await cloud.send(started);
    expect(CommandStatus[(await cloud.resultFor(again.id)).status]).toBe('STALE');

    const ended = await cloud.send({
      case: 'bookingEnded',
      value: { bookingId: 'booking-7', tokenId, endedAtMs: BigInt(TEST_NOW_MS) },
    });
    expect(CommandStatus[(await cloud.resultFor(ended.id)).status]).toBe('OK');
    expect(keyless.controller.runningBooking).toBeUndefined();
  });

  it('starts the link when the module is provisioned, without a restart; a factory reset closes it with OFFLINE', async () => {
    const running = await start();
    expect(running.link).toBeUndefined();

    await provision();
    await running.provisioningChanged();
    await online();
    await waitFor(
      () => cloud.presence().some((p) => p.state === PresenceState.ONLINE),
      'ONLINE presence',
    );

    await running.beforeFactoryReset();
    expect(running.link).toBeUndefined();
    await waitFor(
      () => cloud.presence().at(-1)?.state === PresenceState.OFFLINE,
      'OFFLINE presence',
    );
    // A clean disconnect: the broker drops the will, OFFLINE stays the last word.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(cloud.presence().map((p) => PresenceState[p.state])).toEqual(['ONLINE', 'OFFLINE']);
    await identity.reset();
    await running.afterFactoryReset();
    expect(running.link).toBeUndefined();
  });
});

describe('AccessReportHold', () => {
  const keyUsed = (n: number): AccessEvent => ({
    type: 'key-used',
    tokenId: new Uint8Array(16).fill(n),
    bookingId: '',
    role: HolderRole.OWNER,
    command: 0,
    timeMs: TEST_NOW_MS + n,
    result: 'ok',
    code: ResultCode.OK,
  });

  it('holds events in order until a link takes them, keeps the newest when full, then passes them on', () => {
    const hold = new AccessReportHold(() => TEST_NOW_MS, 3);
    for (let n = 1; n <= 4; n++) hold.take(keyUsed(n));
    hold.take({ type: 'owner-generation-raised', ownerGeneration: 2 }); // stays in the module
    expect(hold.dropped).toBe(1);
    const taken: number[] = [];
    const release = hold.attach((event) => taken.push(event.atMs ?? 0));
    expect(taken).toEqual([TEST_NOW_MS + 2, TEST_NOW_MS + 3, TEST_NOW_MS + 4]);
    hold.take(keyUsed(5));
    expect(taken.at(-1)).toBe(TEST_NOW_MS + 5);
    release();
    hold.take(keyUsed(6));
    expect(hold.held).toBe(1);
  });

  it('maps an auto-lock at the end of an overdue booking to the link’s access-ended action', () => {
    const hold = new AccessReportHold(() => TEST_NOW_MS);
    const taken: unknown[] = [];
    hold.attach((event) => taken.push(event));
    hold.take({
      type: 'access-ended',
      bookingId: 'b',
      tokenId: new Uint8Array(16),
      action: 'locked',
      timeMs: TEST_NOW_MS,
    });
    expect(taken).toEqual([
      {
        case: 'accessEnded',
        value: { bookingId: 'b', tokenId: new Uint8Array(16), action: AccessEndAction.LOCKED },
        atMs: TEST_NOW_MS,
      },
    ]);
  });
});
