// The module's radios and the car's injected faults as the firmware's sim HAL sees them over a
// real vehicle bus socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHalError } from '../../src/hal/index.js';
import { openSimHal, type SimHal } from '../../src/hal/sim/index.js';
import { startSimulatedCar, type SimulatedCar } from './simulated-car.js';
import { VehicleControlError } from './vehicle-types.js';

let dir: string;
let car: SimulatedCar;
let hal: SimHal;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'module-radios-'));
  const fleetVehicle = exampleFleet().vehicles.find((v) => v.market === 'NL');
  if (!fleetVehicle) throw new Error('no NL car in the example fleet');
  car = await startSimulatedCar({
    fleetVehicle,
    socketPath: join(dir, 'bus.sock'),
    clock: { timeScale: 0 },
  });
  hal = await openSimHal({ socketPath: car.socketPath });
});

afterEach(async () => {
  await hal.close();
  await car.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the module's radios in the simulated world", () => {
  it('registers with the network the car stands in, or not', async () => {
    expect(await hal.modem.readRegistration()).toEqual({
      registered: true,
      operator: 'KPN',
      signalDbm: -85,
    });
    car.vehicle.setCellularSignal(-112);
    expect(await hal.modem.readRegistration()).toMatchObject({ signalDbm: -112 });
    car.vehicle.setCellularSignal(-125); // heard, too weak to register
    expect(await hal.modem.readRegistration()).toEqual({ registered: false, signalDbm: -125 });
    car.vehicle.setCellularSignal(null); // a basement garage
    expect(await hal.modem.readRegistration()).toEqual({ registered: false, signalDbm: null });
    expect(() => car.vehicle.setCellularSignal(12)).toThrow(VehicleControlError);
  });

  it('hears the workshop tester unless the radio is broken', async () => {
    expect(await hal.bleRadio.selfCheck()).toEqual({ started: true, testerRssiDbm: -58 });
    car.vehicle.setBleTester(null);
    expect(await hal.bleRadio.selfCheck()).toEqual({ started: true, testerRssiDbm: null });
    car.bus.radios.setBleRadioWorking(false);
    expect(await hal.bleRadio.selfCheck()).toEqual({ started: false });
    expect(car.vehicle.snapshot()).toMatchObject({
      cellularSignalDbm: -85,
      bleTesterRssiDbm: null,
    });
  });

  it('the radios work without 5GE; coding 5GE out removes the sharing interface', async () => {
    car.vehicle.recode(['6AC', '2VB']);
    const refused = await hal.vehicle.readIdentity().catch((error: unknown) => error);
    expect(isHalError(refused, 'no-sharing-interface')).toBe(true);
    expect((await hal.modem.readRegistration()).registered).toBe(true);
    car.vehicle.recode(['5GE', '6AC', '2VB']);
    expect((await hal.vehicle.readIdentity()).optionCodes).toEqual(['2VB', '5GE', '6AC']);
    expect(() => car.vehicle.recode(['5G'])).toThrow(/not option codes/);
  });

  it('a broken lock actuator and an immobilizer that rejects the module change nothing', async () => {
    car.vehicle.setCentralLockFault(true);
    expect((await hal.vehicle.unlock()).locked).toBe(true);
    car.vehicle.setImmobilizerFault(true);
    expect((await hal.vehicle.releaseImmobilizer()).immobilizerReleased).toBe(false);
    car.vehicle.setCentralLockFault(false);
    car.vehicle.setImmobilizerFault(false);
    expect((await hal.vehicle.unlock()).locked).toBe(false);
    expect((await hal.vehicle.releaseImmobilizer()).immobilizerReleased).toBe(true);
  });
});
