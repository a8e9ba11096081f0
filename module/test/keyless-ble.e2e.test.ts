// Keyless access end to end over the virtual BLE air: the module's key service on the real bleno,
// a test phone on the real noble that recognises the car by its rotating advertisement, a
// simulated 5GE car on its vehicle bus read through the firmware's sim HAL, and a paused
// simulated clock the tests move (zero-latency air, so only the protocol's own steps take time).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '@mini-sharing/shared-protocol/messages';
import {
  ResultCode,
  decodeAdvertisement,
  recognitionMaterialFor,
  type RecognitionMaterial,
} from '@mini-sharing/shared-protocol/gatt';
import { BookingStartedSchema } from '@mini-sharing/shared-protocol/link';
import { CommandKind, HolderRole } from '@mini-sharing/shared-protocol/trust';
import type { Signer } from '@mini-sharing/shared-protocol/crypto';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { VirtualAir, startSimulatedCar, type SimulatedCar } from '../sim/index.js';
import { openSimHal, type SimHal } from '../src/hal/sim/index.js';
import { RecordStore } from '../src/storage/index.js';
import { startKeylessAccess, type KeylessAccess } from '../src/keyless/index.js';
import {
  HOUR_MS,
  MINUTE_MS,
  TEST_NOW_MS,
  TestPhone,
  keylessFixtures,
  provisionTestIdentity,
  type KeylessFixtures,
  type PhoneConnection,
} from '../src/keyless/testing/index.js';
import {
  ATTACK_SCENARIOS,
  worldKey,
  type AttackWorld,
} from '../src/keyless/testing/attack-scenarios.js';

const DAY_MS = 24 * HOUR_MS;

let f: KeylessFixtures;
let dir: string;
let air: VirtualAir;
let car: SimulatedCar;
let hal: SimHal;
let keyless: KeylessAccess;
let phone: TestPhone;
let material: RecognitionMaterial;
const logs: string[] = [];
let actuations = 0;

beforeAll(async () => {
  f = await keylessFixtures();
  dir = await mkdtemp(join(tmpdir(), 'keyless-ble-'));
  air = await VirtualAir.start({ controllers: 2, timeScale: 0 });
  car = await startSimulatedCar({
    fleetVehicle: exampleFleet().vehicles[0]!, // the 5GE Cooper SE
    socketPath: join(dir, 'bus.sock'),
    clock: { startMs: TEST_NOW_MS, timeScale: 0 }, // time moves only when a test says so
  });
  car.vehicle.on('lock', () => actuations++);
  car.vehicle.on('immobilizer', () => actuations++);
  hal = await openSimHal({ socketPath: car.socketPath });
  const records = await RecordStore.open(join(dir, 'records'));
  keyless = await startKeylessAccess({
    moduleSerial: f.moduleSerial,
    identity: await provisionTestIdentity(records, f),
    records,
    hal: { vehicle: hal.vehicle, clock: hal.clock },
    log: (level, component, message) => logs.push(`${level} ${component}: ${message}`),
    ble: { bindings: air.bindings(0) },
  });
  phone = new TestPhone(air.bindings(1), f.phone);
  material = recognitionMaterialFor(
    f.advertisingSecret,
    TEST_NOW_MS - DAY_MS,
    TEST_NOW_MS + 30 * DAY_MS,
  );
}, 60_000);

afterAll(async () => {
  phone?.stop();
  await keyless?.close();
  await hal?.close();
  await car?.close();
  await air?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Moves the simulated world's time; resolves once the module clock followed and settled. */
async function moveClock(deltaMs: number): Promise<void> {
  const target = car.clock.now() + deltaMs;
  car.clock.jump(deltaMs);
  await until(() => Math.abs(hal.clock.now() - target) < 1000, 'the module clock to follow');
  await keyless.controller.settled();
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (const started = Date.now(); !condition();) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function connect(device?: Signer): Promise<PhoneConnection> {
  const found = await phone.findCar(material, () => car.clock.now());
  return phone.connect(found.peripheral, device);
}

/** Presents the key over BLE and sends the commands; the module's result codes. */
async function use(token: Uint8Array, kinds: CommandKind[], device?: Signer) {
  const connection = await connect(device);
  try {
    const presented = await connection.client.presentKey(token);
    if (presented.result) return [ResultCode[presented.result.code]];
    const codes: string[] = [];
    for (const kind of kinds) codes.push(ResultCode[(await connection.client.command(kind)).code]!);
    return codes;
  } finally {
    await connection.disconnect();
  }
}

const world: AttackWorld = {
  get f() {
    return f;
  },
  get controller() {
    return keyless.controller;
  },
  connect: async (device) => {
    const connection = await connect(device);
    return { client: connection.client, close: () => connection.disconnect() };
  },
  advanceClock: (ms) => moveClock(ms),
  setClockBack: (ms) => moveClock(-ms),
  nowMs: () => car.clock.now(),
  // The module reads the count over the bus when it needs it: nothing to wait for.
  setKeysInCabin: async (count) => car.vehicle.setKeysInCabin(count),
  logs: () => logs,
  attack: async (step) => {
    const before = actuations;
    const result = await step();
    return { result, actuations: actuations - before };
  },
};

describe('keyless access over BLE (real bleno and noble, simulated car)', () => {
  it('advertises the key service with a rotating identifier and no name', async () => {
    const found = await phone.findCar(material, () => car.clock.now());
    expect(found.state).toMatchObject({ locked: true, allClosed: true, ignitionOn: false });
    expect(found.peripheral.advertisement.localName).toBeUndefined();
    const before = decodeAdvertisement(keyless.advertisement!)!.identifier;
    await moveClock(15 * MINUTE_MS);
    await until(
      () => !Buffer.from(decodeAdvertisement(keyless.advertisement!)!.identifier).equals(before),
      'a new identifier in the next window',
    );
    expect((await phone.findCar(material, () => car.clock.now())).state?.locked).toBe(true);
  });

  it('keeps advertising the current window across connections and clock jumps', async () => {
    for (let round = 0; round < 3; round++) {
      const connection = await connect();
      await moveClock(15 * MINUTE_MS); // a new window while a central is connected
      await connection.disconnect(); // bleno re-enables advertising meanwhile
    }
    await moveClock(15 * MINUTE_MS);
    const current = Math.floor(car.clock.now() / (15 * MINUTE_MS));
    // The advertiser swaps its data asynchronously (bleno confirms it), and the phone also
    // recognises the previous window: a scan right after the jump may catch a last report of the
    // old one. Look again, for at most 2 s, until the current window is on the air.
    let found = await phone.findCar(material, () => car.clock.now());
    for (let tries = 0; found.windowIndex !== current && tries < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      found = await phone.findCar(material, () => car.clock.now());
    }
    expect(found.windowIndex).toBe(current);
  });

  it("the owner's key opens, releases the immobilizer and locks", async () => {
    const owner = await worldKey(world, { role: HolderRole.OWNER });
    expect(await use(owner.token, [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE])).toEqual([
      'OK',
      'OK',
    ]);
    expect(car.vehicle.state()).toMatchObject({ locked: false, immobilizerReleased: true });
    expect(await use(owner.token, [CommandKind.LOCK])).toEqual(['OK']);
    expect(car.vehicle.state().locked).toBe(true);
  });

  it("a driver's key inside its window opens; outside it, nothing", async () => {
    const driver = await worldKey(world, { role: HolderRole.DRIVER });
    expect(await use(driver.token, [CommandKind.UNLOCK, CommandKind.LOCK])).toEqual(['OK', 'OK']);
    expect(keyless.controller.runningBooking?.source).toBe('first-key-use');
    const later = await worldKey(world, {
      role: HolderRole.DRIVER,
      fields: { notBeforeMs: BigInt(car.clock.now() + HOUR_MS) },
    });
    const before = actuations;
    expect(await use(later.token, [CommandKind.UNLOCK])).toEqual(['NOT_YET_VALID']);
    expect(actuations).toBe(before);
  });

  it("a VIP driver's key opens and enables the drive", async () => {
    const vip = await worldKey(world, { role: HolderRole.VIP_DRIVER });
    expect(
      await use(vip.token, [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE, CommandKind.LOCK]),
    ).toEqual(['OK', 'OK', 'OK']);
    expect(keyless.controller.runningBooking?.role).toBe(HolderRole.VIP_DRIVER);
  });

  it('a workshop test key opens and locks, never drives', async () => {
    const station = await worldKey(world, { role: HolderRole.WORKSHOP_TEST });
    expect(
      await use(
        station.token,
        [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE, CommandKind.LOCK],
        f.station,
      ),
    ).toEqual(['OK', 'MISSING_PERMISSION', 'OK']);
  });
});

describe('the overdue rule over BLE', () => {
  async function driverOnBooking(bookingId: string) {
    const bookingEndMs = car.clock.now() + HOUR_MS;
    const driver = await worldKey(world, { role: HolderRole.DRIVER, bookingId, bookingEndMs });
    const started = await keyless.controller.bookingStarted(
      create(BookingStartedSchema, {
        bookingId,
        tokenId: driver.tokenId,
        role: HolderRole.DRIVER,
        bookingEndMs: BigInt(bookingEndMs),
      }),
    );
    expect(started.status).toBe('ok');
    return { ...driver, bookingEndMs };
  }

  it('29 minutes past the end, parked: opens', async () => {
    const driver = await driverOnBooking('OVERDUE-29');
    await moveClock(driver.bookingEndMs + 29 * MINUTE_MS - car.clock.now());
    expect(await use(driver.token, [CommandKind.UNLOCK, CommandKind.LOCK])).toEqual(['OK', 'OK']);
  });

  it('31 minutes past, parked: refused, and the unlocked closed car was locked', async () => {
    const driver = await driverOnBooking('OVERDUE-31');
    expect(await use(driver.token, [CommandKind.UNLOCK])).toEqual(['OK']);
    await moveClock(driver.bookingEndMs + 31 * MINUTE_MS - car.clock.now());
    await until(() => car.vehicle.state().locked, 'the module to lock the car');
    const before = actuations;
    expect(await use(driver.token, [CommandKind.UNLOCK])).toEqual(['ACCESS_ENDED']);
    expect(actuations).toBe(before);
    expect(logs.join('\n')).toMatch(
      /OVERDUE-31 overdue and parked: Bluetooth access ended \(locked\)/,
    );
  });

  it('31 minutes past while driving: goes on until parked, then refused', async () => {
    const driver = await driverOnBooking('OVERDUE-DRIVE');
    const connection = await connect();
    try {
      await connection.client.presentKey(driver.token);
      expect((await connection.client.command(CommandKind.UNLOCK)).code).toBe(ResultCode.OK);
      expect((await connection.client.command(CommandKind.ENABLE_DRIVE)).code).toBe(ResultCode.OK);
      const here = car.vehicle.snapshot().position;
      car.vehicle.drive({ to: { lat: here.lat + 1, lon: here.lon }, speedKmh: 50 });
      await moveClock(driver.bookingEndMs + 31 * MINUTE_MS - car.clock.now());
      expect(car.vehicle.state()).toMatchObject({ ignition: 'on', engineRunning: true });
      expect(car.vehicle.state().speedKmh).toBeGreaterThan(0); // never stopped
      const fresh = { freshChallenge: true };
      expect((await connection.client.command(CommandKind.LOCK, fresh)).code).toBe(ResultCode.OK);
      car.vehicle.park();
      await until(() => keyless.controller.runningBooking === undefined, 'access to end');
      expect(car.vehicle.state()).toMatchObject({ locked: true, immobilizerReleased: false });
      expect((await connection.client.command(CommandKind.UNLOCK, fresh)).code).toBe(
        ResultCode.ACCESS_ENDED,
      );
    } finally {
      await connection.disconnect();
    }
  });
});

describe('attacks over BLE: refused with the reason, logged, nothing actuated', () => {
  for (const scenario of ATTACK_SCENARIOS) {
    it(`refuses ${scenario.name}`, async () => {
      const logged = logs.length;
      const { result, actuations: moved } = await scenario.run(world);
      expect(ResultCode[result.code]).toBe(ResultCode[scenario.expected]);
      expect(result.message).not.toBe('');
      expect(moved).toBe(0);
      expect(logs.slice(logged).join('\n')).toContain(scenario.logged);
    });
  }
});
