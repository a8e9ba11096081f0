// The simulated car served on a real Unix socket, driven through the firmware's sim HAL, in one
// process. The SimClock is paused (time scale 0) so simulated time moves only by jumps.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetVehicle } from '@mini-sharing/shared-protocol/vehicle';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatedCar } from '../sim/index.js';
import { startSimulatedCar } from '../sim/index.js';
import type { ModuleClockChange, VehicleEvent } from '../src/hal/index.js';
import { HalError, RTC_RESET_MS } from '../src/hal/index.js';
import type { BusConnectionChange, SimHal } from '../src/hal/sim/index.js';
import { openSimHal } from '../src/hal/sim/index.js';

const T0 = Date.UTC(2025, 2, 3, 7, 30);
const HOUR = 3_600_000;
// The example Countryman is an NL car: it starts in Amsterdam, about 35 km away.
const UTRECHT = { lat: 52.0907, lon: 5.1214 };
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function fleetVehicle(model: RegExp): FleetVehicle {
  const entry = exampleFleet().vehicles.find((vehicle) => model.test(vehicle.model));
  if (entry === undefined) throw new Error(`no ${String(model)} in the example fleet`);
  return entry;
}

async function startCar(model = /Countryman/): Promise<SimulatedCar> {
  const dir = await mkdtemp(join(tmpdir(), 'vehicle-bus-'));
  const car = await startSimulatedCar({
    fleetVehicle: fleetVehicle(model),
    socketPath: join(dir, 'bus.sock'),
    clock: { startMs: T0, timeScale: 0 },
  });
  cleanups.push(async () => {
    await car.close();
    await rm(dir, { recursive: true, force: true });
  });
  return car;
}

async function openHal(car: SimulatedCar): Promise<SimHal> {
  const hal = await openSimHal({ socketPath: car.socketPath });
  cleanups.push(() => hal.close());
  return hal;
}

/** Resolves with the first value a subscription delivers that `match` accepts. */
function next<T>(
  subscribe: (listener: (value: T) => void) => () => void,
  match: (value: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve) => {
    const unsubscribe = subscribe((value) => {
      if (!match(value)) return;
      unsubscribe();
      resolve(value);
    });
  });
}

async function halError(promise: Promise<unknown>): Promise<HalError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HalError);
  return error as HalError;
}

describe('vehicle bus: a 5GE car through the sim HAL', () => {
  it("reads the car's identity through the sharing interface", async () => {
    const car = await startCar();
    const hal = await openHal(car);
    expect(await hal.vehicle.readIdentity()).toEqual(car.vehicle.identity);
    expect(await hal.vehicle.readState()).toEqual(car.vehicle.state());
  });

  it('locks and unlocks the car, and hears what people do to it', async () => {
    const car = await startCar();
    const hal = await openHal(car);
    const events: VehicleEvent[] = [];
    hal.vehicle.onEvent((event) => events.push(event));

    expect((await hal.vehicle.unlock()).locked).toBe(false);
    expect(car.vehicle.state().locked).toBe(false);
    const doorEvent = next(hal.vehicle.onEvent.bind(hal.vehicle), (e) => e.type === 'doors');
    car.vehicle.openDoor('rear-left');
    expect(await doorEvent).toEqual({ type: 'doors', openDoors: ['rear-left'] });

    const refused = await halError(hal.vehicle.lock());
    expect(refused.code).toBe('doors-open');
    expect(refused.details).toEqual({ openDoors: ['rear-left'] });
    expect(car.vehicle.state().locked).toBe(false);

    car.vehicle.closeDoor('rear-left');
    expect((await hal.vehicle.lock()).locked).toBe(true);
    expect(events).toEqual([
      { type: 'lock', locked: false },
      { type: 'doors', openDoors: ['rear-left'] },
      { type: 'doors', openDoors: [] },
      { type: 'lock', locked: true },
    ]);
  });

  it('the immobilizer the module releases lets the car be driven; speed comes as events', async () => {
    const car = await startCar();
    const hal = await openHal(car);
    expect(() => car.vehicle.drive({ to: UTRECHT, speedKmh: 80 })).toThrow(/immobilizer/);
    expect((await hal.vehicle.releaseImmobilizer()).immobilizerReleased).toBe(true);
    const moving = next(hal.vehicle.onEvent.bind(hal.vehicle), (e) => e.type === 'speed');
    const drive = car.vehicle.drive({ to: UTRECHT, speedKmh: 80 });
    expect(await moving).toEqual({ type: 'speed', speedKmh: 80 });
    expect(await hal.vehicle.readState()).toMatchObject({ engineRunning: true, speedKmh: 80 });

    const stopped = next(hal.vehicle.onEvent.bind(hal.vehicle), (e) => e.type === 'speed');
    car.clock.jump(HOUR);
    expect(await stopped).toEqual({ type: 'speed', speedKmh: 0 });
    const end = await drive.ended;
    const fix = await hal.gnss.readPosition();
    expect(fix).toEqual({
      fix: true,
      latitude: end.position.lat,
      longitude: end.position.lon,
      accuracyM: 5,
      fixTimeMs: T0 + HOUR,
    });
    car.vehicle.setGnssSignal(false);
    expect(await hal.gnss.readPosition()).toEqual({ fix: false });
  });

  it('reads the 12 V supply and hears it change', async () => {
    const car = await startCar();
    const hal = await openHal(car);
    expect(await hal.supply.readMillivolts()).toBe(12_600);
    const change = next<number>((listener) => hal.supply.onChange(listener));
    car.vehicle.setCharger(true);
    expect(await change).toBe(13_600);
  });
});

describe('vehicle bus: a car without 5GE', () => {
  it('has no sharing interface: identity reads fail with no-sharing-interface', async () => {
    const car = await startCar(/5-door/);
    expect(car.vehicle.hasSharingInterface).toBe(false);
    const hal = await openHal(car);
    const events: VehicleEvent[] = [];
    hal.vehicle.onEvent((event) => events.push(event));

    const error = await halError(hal.vehicle.readIdentity());
    expect(error.code).toBe('no-sharing-interface');
    expect(error.message).toMatch(/5GE/);
    expect((await halError(hal.vehicle.readState())).code).toBe('no-sharing-interface');
    expect((await halError(hal.vehicle.unlock())).code).toBe('no-sharing-interface');
    expect(car.vehicle.state().locked).toBe(true);

    // The module's own sensors still work; the car's events never reach it.
    car.vehicle.unlock();
    car.vehicle.openDoor('front-left');
    expect((await hal.gnss.readPosition()).fix).toBe(true);
    expect(await hal.supply.readMillivolts()).toBe(12_600);
    expect(hal.clock.now()).toBe(T0);
    expect(events).toEqual([]);
  });
});

describe('vehicle bus: the module clock', () => {
  it('follows jumps, time-scale changes and sets; its timers fire by simulated time', async () => {
    const car = await startCar();
    const hal = await openHal(car);
    expect(hal.clock.now()).toBe(T0);
    expect(hal.clock.timeKnown).toBe(true);

    let fired = false;
    hal.clock.setTimeout(() => (fired = true), HOUR);
    const jumped = next<ModuleClockChange>((listener) => hal.clock.onChange(listener));
    car.clock.jump(2 * HOUR);
    expect(await jumped).toEqual({
      reason: 'jump',
      nowMs: T0 + 2 * HOUR,
      deltaMs: 2 * HOUR,
      timeKnown: true,
    });
    expect(fired).toBe(true);

    // A rollback: the clock goes back, a pending timer keeps its remaining time.
    let rolledBackTimer = false;
    hal.clock.setTimeout(() => (rolledBackTimer = true), 10_000);
    const rolledBack = next<ModuleClockChange>((listener) => hal.clock.onChange(listener));
    car.clock.jump(-5 * HOUR);
    expect((await rolledBack).deltaMs).toBe(-5 * HOUR);
    expect(hal.clock.now()).toBe(T0 - 3 * HOUR);
    const stepped = next<ModuleClockChange>((listener) => hal.clock.onChange(listener));
    car.clock.jump(9_999);
    await stepped;
    expect(rolledBackTimer).toBe(false);
    const stepped2 = next<ModuleClockChange>((listener) => hal.clock.onChange(listener));
    car.clock.jump(1);
    await stepped2;
    expect(rolledBackTimer).toBe(true);

    const set = next<ModuleClockChange>((listener) => hal.clock.onChange(listener));
    await hal.clock.setTime(T0 + 24 * HOUR);
    expect(await set).toMatchObject({ reason: 'set', nowMs: T0 + 24 * HOUR });
    expect(car.bus.rtc.read().nowMs).toBe(T0 + 24 * HOUR);

    const scaled = next<ModuleClockChange>((listener) => hal.clock.onChange(listener));
    car.clock.setTimeScale(60);
    expect((await scaled).reason).toBe('time-scale');
    expect(hal.clock.timeScale).toBe(60);
  });

  it('pulling the battery cuts the module off; after restoring, its time is unknown until set', async () => {
    const car = await startCar();
    const hal = await openHal(car);
    const lost = next<BusConnectionChange>(
      (listener) => hal.bus.onConnection(listener),
      (c) => !c.connected,
    );
    car.vehicle.pullBattery();
    await lost;
    await expect.poll(() => car.bus.connectionCount).toBe(0);
    // A firmware still alive reconnects, but a car without 12 V answers nothing.
    const error = await halError(hal.vehicle.readState());
    expect(error.code).toBe('no-power');
    await hal.close();

    car.vehicle.restoreBattery();
    const rebooted = await openHal(car);
    expect(rebooted.clock.timeKnown).toBe(false);
    expect(rebooted.clock.now()).toBe(RTC_RESET_MS);
    await rebooted.clock.setTime(T0 + HOUR);
    expect(rebooted.clock.timeKnown).toBe(true);
    expect(rebooted.clock.now()).toBe(T0 + HOUR);
    expect(car.bus.rtc.read()).toMatchObject({ nowMs: T0 + HOUR, timeKnown: true });
    expect((await rebooted.vehicle.readState()).locked).toBe(true);
  });
});
