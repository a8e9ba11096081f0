import { ManualClock } from '@mini-sharing/shared-protocol/clock';
import type { FleetVehicle } from '@mini-sharing/shared-protocol/vehicle';
import { EXAMPLE_FLEET_JSON, parseFleetFile } from '@mini-sharing/shared-protocol/vehicle';
import { describe, expect, it } from 'vitest';
import { distanceKm } from './geo.js';
import { SimClock } from './sim-clock.js';
import { SimulatedVehicle } from './simulated-vehicle.js';
import type { VehicleControlErrorCode, VehicleStartState } from './vehicle-types.js';
import { VehicleControlError } from './vehicle-types.js';

const HOUR = 3_600_000;
const MUNICH = { lat: 48.1771, lon: 11.5562 };
const AUGSBURG = { lat: 48.3705, lon: 10.8978 };

function fleetVehicle(vin: string): FleetVehicle {
  const parsed = parseFleetFile(EXAMPLE_FLEET_JSON);
  if (!parsed.ok) throw new Error('example fleet does not parse');
  const entry = parsed.fleet.vehicles.find((vehicle) => vehicle.vin === vin);
  if (entry === undefined) throw new Error(`no ${vin} in the example fleet`);
  return entry;
}

// From the example fleet: a 5GE electric 3-door, a petrol 5-door without 5GE, a 5GE diesel.
const COOPER_SE = 'WMW31DH0302S71642';
const COOPER_NO_5GE = 'WMW51DK0X02R13377';
const COUNTRYMAN_D = 'WMZ21GA0707T90415';

function makeCar(vin = COUNTRYMAN_D, start: VehicleStartState = {}) {
  const real = new ManualClock(0);
  const clock = new SimClock({ startMs: Date.UTC(2025, 0, 6, 9), timeScale: 1, realTime: real });
  const vehicle = new SimulatedVehicle(clock, { fleetVehicle: fleetVehicle(vin), start });
  const events: Array<[string, unknown]> = [];
  for (const name of [
    'lock',
    'doors',
    'ignition',
    'immobilizer',
    'speed',
    'keys',
    'supply',
    'power',
  ] as const) {
    vehicle.on(name, (data: unknown) => events.push([name, data]));
  }
  return { real, clock, vehicle, events };
}

function refusal(action: () => unknown): VehicleControlErrorCode {
  try {
    action();
  } catch (error) {
    if (error instanceof VehicleControlError) return error.code;
    throw error;
  }
  throw new Error('expected the car to refuse');
}

describe('SimulatedVehicle', () => {
  it('is built from a fleet file entry and knows whether it has the 5GE interface', () => {
    const { vehicle } = makeCar(COOPER_SE);
    expect(vehicle.identity).toMatchObject({
      vin: COOPER_SE,
      market: 'DE',
      fuel: 'electric',
      optionCodes: ['2VB', '534', '5GE', '6AC'],
    });
    expect(vehicle.hasSharingInterface).toBe(true);
    // "3-door": no rear doors.
    expect(vehicle.identity.doors).toEqual(['front-left', 'front-right', 'tailgate', 'bonnet']);
    expect(vehicle.state()).toMatchObject({ chargePercent: 80, locked: true, speedKmh: 0 });
    expect(vehicle.state().fuelPercent).toBeUndefined();
    expect(makeCar(COOPER_NO_5GE).vehicle.hasSharingInterface).toBe(false);
  });

  it('locks and unlocks, with an event per change', () => {
    const { vehicle, events } = makeCar();
    vehicle.unlock('module');
    expect(vehicle.state().locked).toBe(false);
    vehicle.unlock('module');
    vehicle.lock('key');
    expect(vehicle.state().locked).toBe(true);
    expect(events).toEqual([
      ['lock', { locked: false, by: 'module' }],
      ['lock', { locked: true, by: 'key' }],
    ]);
  });

  it('refuses to lock with anything open, and changes nothing', () => {
    const { vehicle, events } = makeCar();
    vehicle.unlock();
    vehicle.openDoor('tailgate');
    events.length = 0;
    let error: unknown;
    try {
      vehicle.lock('module');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(VehicleControlError);
    expect(error).toMatchObject({ code: 'doors-open', details: { openDoors: ['tailgate'] } });
    expect(vehicle.state()).toMatchObject({ locked: false, openDoors: ['tailgate'] });
    expect(events).toEqual([]);
    vehicle.closeDoor('tailgate');
    vehicle.lock('module');
    expect(vehicle.state().locked).toBe(true);
  });

  it('does not open a locked door, nor one the body does not have', () => {
    const { vehicle } = makeCar(COOPER_SE);
    expect(refusal(() => vehicle.openDoor('front-left'))).toBe('door-locked');
    vehicle.unlock();
    expect(refusal(() => vehicle.openDoor('rear-left'))).toBe('no-such-door');
    vehicle.openDoor('front-left');
    expect(vehicle.state().openDoors).toEqual(['front-left']);
  });

  it('starts the engine only with the ignition on and the immobilizer released', () => {
    const { vehicle } = makeCar();
    expect(refusal(() => vehicle.startEngine())).toBe('ignition-off');
    vehicle.switchIgnition(true);
    expect(refusal(() => vehicle.startEngine())).toBe('immobilized');
    expect(refusal(() => vehicle.drive({ to: AUGSBURG, speedKmh: 100 }))).toBe('immobilized');
    expect(vehicle.state().engineRunning).toBe(false);
    vehicle.releaseImmobilizer();
    vehicle.startEngine();
    expect(vehicle.state()).toMatchObject({ engineRunning: true, immobilizerReleased: true });
  });

  it("starts with a physical key in the cabin (the car's own immobilizer)", () => {
    const { vehicle } = makeCar();
    vehicle.setKeysInCabin(1);
    vehicle.switchIgnition(true);
    vehicle.startEngine();
    expect(vehicle.state().engineRunning).toBe(true);
    expect(refusal(() => vehicle.setKeysInCabin(3))).toBe('invalid-argument');
  });

  it('engaging the immobilizer never stops a car being driven, only the next start', () => {
    const { vehicle, real } = makeCar(COUNTRYMAN_D, { position: MUNICH });
    vehicle.releaseImmobilizer();
    vehicle.drive({ to: AUGSBURG, speedKmh: 100 });
    vehicle.engageImmobilizer();
    real.advance(60_000);
    expect(vehicle.state()).toMatchObject({ engineRunning: true, speedKmh: 100 });
    vehicle.park();
    vehicle.switchIgnition(true);
    expect(refusal(() => vehicle.startEngine())).toBe('immobilized');
  });

  it('drives in simulated time: odometer, position and fuel follow the clock', async () => {
    const { vehicle, real, clock, events } = makeCar(COUNTRYMAN_D, {
      position: MUNICH,
      odometerKm: 1000,
    });
    vehicle.releaseImmobilizer();
    const distance = distanceKm(MUNICH, AUGSBURG);
    const drive = vehicle.drive({ to: AUGSBURG, speedKmh: 60 });
    expect(drive.distanceKm).toBeCloseTo(distance, 6);
    expect(drive.durationMs).toBeCloseTo((distance / 60) * HOUR, 0);
    expect(events).toContainEqual(['speed', { speedKmh: 60 }]);

    real.advance(10 * 60_000); // 10 minutes at 60 km/h
    const underway = vehicle.state();
    expect(underway.odometerKm).toBeCloseTo(1010, 1);
    expect(underway.fuelPercent).toBeLessThan(80);
    const fix = vehicle.gnss();
    expect(fix.fix && distanceKm(MUNICH, { lat: fix.latitude, lon: fix.longitude })).toBeCloseTo(
      10,
      1,
    );

    clock.jump(HOUR); // the rest of the way at once
    await expect(drive.ended).resolves.toMatchObject({ reason: 'arrived' });
    const arrived = vehicle.snapshot();
    expect(arrived.odometerKm).toBeCloseTo(1000 + distance, 1);
    expect(arrived.position.lat).toBeCloseTo(AUGSBURG.lat, 6);
    expect(arrived).toMatchObject({ speedKmh: 0, engineRunning: true });
    expect(arrived.trip).toBeUndefined();
    expect(events.at(-1)).toEqual(['speed', { speedKmh: 0 }]);
  });

  it('a clock rollback does not drive the car backwards', () => {
    const { vehicle, real, clock } = makeCar(COUNTRYMAN_D, { position: MUNICH, odometerKm: 0 });
    vehicle.setKeysInCabin(1);
    vehicle.drive({ to: AUGSBURG, speedKmh: 60 });
    real.advance(5 * 60_000);
    clock.jump(-2 * HOUR);
    expect(vehicle.state().odometerKm).toBeCloseTo(5, 1);
    real.advance(5 * 60_000);
    expect(vehicle.state().odometerKm).toBeCloseTo(10, 1);
  });

  it('stops where the tank runs dry, engine off', async () => {
    const { vehicle, clock } = makeCar(COUNTRYMAN_D, { position: MUNICH, fuelPercent: 1 });
    vehicle.setKeysInCabin(2);
    const drive = vehicle.drive({ to: AUGSBURG, speedKmh: 100 });
    expect(drive.runsOutOfEnergy).toBe(true);
    clock.jump(HOUR);
    const end = await drive.ended;
    expect(end.reason).toBe('out-of-energy');
    expect(vehicle.state()).toMatchObject({ fuelPercent: 0, engineRunning: false, speedKmh: 0 });
    expect(refusal(() => vehicle.drive({ to: AUGSBURG, speedKmh: 50 }))).toBe('no-energy');
    vehicle.setEnergy({ fuelPercent: 50, chargePercent: 10 });
    expect(vehicle.state()).toMatchObject({ fuelPercent: 50 });
    expect(vehicle.state().chargePercent).toBeUndefined();
  });

  it('refuses bad drive arguments and does not drive with a door open', () => {
    const { vehicle } = makeCar();
    vehicle.setKeysInCabin(1);
    expect(refusal(() => vehicle.drive({ to: { lat: 91, lon: 0 }, speedKmh: 50 }))).toBe(
      'invalid-argument',
    );
    expect(refusal(() => vehicle.drive({ to: AUGSBURG, speedKmh: 0 }))).toBe('invalid-argument');
    vehicle.unlock();
    vehicle.openDoor('front-left');
    expect(refusal(() => vehicle.drive({ to: AUGSBURG, speedKmh: 50 }))).toBe('doors-open');
    expect(vehicle.state().ignition).toBe('off');
  });

  it('pulling the 12 V battery powers everything off; restoring powers it on', async () => {
    const { vehicle, events } = makeCar(COUNTRYMAN_D, { position: MUNICH });
    vehicle.releaseImmobilizer();
    const drive = vehicle.drive({ to: AUGSBURG, speedKmh: 50 });
    events.length = 0;
    vehicle.pullBattery();
    await expect(drive.ended).resolves.toMatchObject({ reason: 'power-lost' });
    expect(vehicle.powered).toBe(false);
    expect(vehicle.supplyMillivolts).toBe(0);
    expect(events).toContainEqual(['power', { on: false }]);
    expect(events).toContainEqual(['immobilizer', { released: false }]);
    expect(vehicle.state()).toMatchObject({ engineRunning: false, ignition: 'off', speedKmh: 0 });
    expect(refusal(() => vehicle.unlock())).toBe('no-power');
    expect(refusal(() => vehicle.releaseImmobilizer())).toBe('no-power');
    events.length = 0;
    vehicle.restoreBattery();
    expect(events).toEqual([
      ['power', { on: true }],
      ['supply', { millivolts: 12_600 }],
    ]);
    expect(vehicle.state().locked).toBe(true); // mechanical: unchanged
  });

  it('the charger holds the supply at 13 V or more; a running engine charges', () => {
    const { vehicle } = makeCar(COUNTRYMAN_D, { batteryVolts: 11.9 });
    expect(vehicle.supplyMillivolts).toBe(11_900);
    vehicle.setCharger(true);
    expect(vehicle.supplyMillivolts).toBeGreaterThanOrEqual(13_000);
    vehicle.setCharger(false);
    vehicle.setKeysInCabin(1);
    vehicle.switchIgnition(true);
    vehicle.startEngine();
    expect(vehicle.supplyMillivolts).toBe(14_200);
  });

  it('shows itself as plain JSON', () => {
    const { vehicle } = makeCar(COUNTRYMAN_D, { position: MUNICH });
    vehicle.setKeysInCabin(2);
    vehicle.drive({ to: AUGSBURG, speedKmh: 80 });
    const snapshot = vehicle.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({
      sharingInterface: true,
      keysInCabin: 2,
      startable: true,
      powered: true,
      trip: { to: AUGSBURG, speedKmh: 80 },
    });
  });
});
