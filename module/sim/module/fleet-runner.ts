/**
 * Starts simulated cars with their modules from a fleet file: per car a SimulatedVehicle on the
 * shared SimClock, a vehicle bus socket, and — for cars with module hardware — a virtual serial
 * line whose app end is published in the ports folder, a factory-programmed flash and the module's
 * boot loader process. Used by the module-sim CLI and the simulated workshop (`npm start`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet, FleetVehicle } from '@mini-sharing/shared-protocol/vehicle';
import { VirtualSerialLine } from '../serial-line/index.js';
import { SimClock, startSimulatedCar, type SimulatedCar } from '../vehicle/index.js';
import { SimulatedModule, programFactoryImage } from './simulated-module.js';

export interface FleetCar extends SimulatedCar {
  fleetVehicle: FleetVehicle;
  /** Present when the car has module hardware. */
  module?: { serial: string; line: VirtualSerialLine; unit: SimulatedModule; storageDir: string };
}

export interface FleetRunnerOptions {
  fleet: Fleet;
  /** Working folder for sockets, flash folders and the module ends of the serial lines. */
  dir: string;
  /** Where the app ends of the serial lines are linked (the workshop app's device folder). */
  portsDir: string;
  /** The image a blank module is programmed with at the factory. */
  factoryImage(): Promise<Uint8Array>;
  timeScale?: number;
  output?: 'inherit' | 'pipe' | 'ignore';
}

export interface RunningFleet {
  clock: SimClock;
  cars: FleetCar[];
  /** A car by VIN, module serial, or 1-based index. */
  find(id: string): FleetCar | undefined;
  close(): Promise<void>;
}

export async function startFleet(options: FleetRunnerOptions): Promise<RunningFleet> {
  const clock = new SimClock({ timeScale: options.timeScale ?? 1 });
  const cars: FleetCar[] = [];
  mkdirSync(options.portsDir, { recursive: true });
  let factoryImage: Uint8Array | undefined;
  try {
    for (const [index, fleetVehicle] of options.fleet.vehicles.entries()) {
      const carDir = join(options.dir, `car-${index + 1}`);
      mkdirSync(carDir, { recursive: true });
      const busPath = join(carDir, 'vbus.sock');
      const car: FleetCar = {
        fleetVehicle,
        ...(await startSimulatedCar({ fleetVehicle, socketPath: busPath, clock })),
      };
      const { vehicle } = car;
      cars.push(car);
      const hardware = fleetVehicle.moduleHardware;
      if (!hardware) continue;
      const line = await VirtualSerialLine.open({
        dir: options.portsDir,
        moduleDir: carDir,
        name: hardware.moduleSerial,
      });
      const storageDir = join(carDir, 'flash');
      if (!existsSync(join(storageDir, 'slots'))) {
        factoryImage ??= await options.factoryImage();
        await programFactoryImage(storageDir, factoryImage);
      }
      const unit = new SimulatedModule({
        output: options.output ?? 'inherit',
        config: {
          moduleSerial: hardware.moduleSerial,
          hardwareRevision: hardware.hardwareRevision,
          storageDir,
          serialPort: line.modulePath,
          vehicleBus: busPath,
        },
      });
      // the 12 V battery powers the module: pulling it kills the module mid-step
      vehicle.on('power', ({ on }) => {
        if (!on) void unit.powerOff();
        else if (!unit.poweredOn) unit.powerOn();
      });
      unit.powerOn();
      car.module = { serial: hardware.moduleSerial, line, unit, storageDir };
    }
  } catch (error) {
    await closeAll(cars);
    clock.close();
    throw error;
  }
  return {
    clock,
    cars,
    find: (id) => {
      const wanted = id.trim().toUpperCase();
      const index = Number(wanted);
      if (Number.isInteger(index) && index >= 1) return cars[index - 1];
      return cars.find(
        (car) =>
          car.fleetVehicle.vin === wanted ||
          car.module?.serial.replace(/-/g, '') === wanted.replace(/-/g, ''),
      );
    },
    close: async () => {
      await closeAll(cars);
      clock.close();
    },
  };
}

async function closeAll(cars: FleetCar[]): Promise<void> {
  for (const car of cars) {
    await car.module?.unit.powerOff();
    await car.module?.line.close();
    await car.close();
  }
}
