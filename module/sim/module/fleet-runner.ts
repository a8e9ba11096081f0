/**
 * Starts simulated cars with their modules from a fleet file: per car a SimulatedVehicle on the
 * shared SimClock, a vehicle bus socket, and — for cars with module hardware — a virtual serial
 * line whose app end is published in the ports folder, a factory-programmed flash, a Bluetooth
 * controller on the fleet's one virtual BLE air, and the module's boot loader process. The air
 * has spare controllers for phones (a demo phone, a test). Used by the module-sim CLI and the
 * simulated workshop (`npm start`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet, FleetVehicle } from '@mini-sharing/shared-protocol/vehicle';
import { VirtualAir, type HciUartBindings } from '../ble-air/index.js';
import { VirtualSerialLine } from '../serial-line/index.js';
import { SimClock, startSimulatedCar, type SimulatedCar } from '../vehicle/index.js';
import { SimulatedModule, programFactoryImage } from './simulated-module.js';

export interface FleetCar extends SimulatedCar {
  fleetVehicle: FleetVehicle;
  /** Present when the car has module hardware. */
  module?: {
    serial: string;
    line: VirtualSerialLine;
    unit: SimulatedModule;
    storageDir: string;
    /** The module's Bluetooth controller on the fleet's air; absent when the air is off. */
    blePort?: string;
  };
}

/** The fleet's virtual BLE air and its controllers for phones. */
export interface FleetAir {
  air: VirtualAir;
  /** Controllers no module uses: a phone (noble) opens one as an HCI UART. */
  phonePorts: string[];
  /** `withBindings('hci', …)` options for phone controller `i`. */
  phoneBindings(i: number): HciUartBindings;
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
  /**
   * Bluetooth: one virtual air, a controller per module and `phones` more (default 2); `false`:
   * no air, the modules run without Bluetooth. Needs socat.
   */
  ble?: false | { phones?: number };
}

export interface RunningFleet {
  clock: SimClock;
  cars: FleetCar[];
  /** Undefined when the fleet runs without Bluetooth (`ble: false`, or see `bleProblem`). */
  ble: FleetAir | undefined;
  /** Why the air did not start (e.g. no socat), when it was wanted. */
  bleProblem?: string;
  /** A car by VIN, module serial, or 1-based index. */
  find(id: string): FleetCar | undefined;
  close(): Promise<void>;
}

export async function startFleet(options: FleetRunnerOptions): Promise<RunningFleet> {
  const clock = new SimClock({ timeScale: options.timeScale ?? 1 });
  const cars: FleetCar[] = [];
  mkdirSync(options.portsDir, { recursive: true });
  let factoryImage: Uint8Array | undefined;
  let ble: FleetAir | undefined;
  let bleProblem: string | undefined;
  try {
    if (options.ble !== false) {
      try {
        ble = await startFleetAir(options, options.ble?.phones ?? 2);
      } catch (error) {
        // The cars and the service links still work; say why there is no Bluetooth.
        bleProblem = error instanceof Error ? error.message : String(error);
      }
    }
    let nextController = 0;
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
      const blePort = ble?.air.port(nextController++);
      const unit = new SimulatedModule({
        output: options.output ?? 'inherit',
        config: {
          moduleSerial: hardware.moduleSerial,
          hardwareRevision: hardware.hardwareRevision,
          storageDir,
          serialPort: line.modulePath,
          vehicleBus: busPath,
          ...(blePort ? { blePort } : {}),
        },
      });
      // the 12 V battery powers the module: pulling it kills the module mid-step
      vehicle.on('power', ({ on }) => {
        if (!on) void unit.powerOff();
        else if (!unit.poweredOn) unit.powerOn();
      });
      unit.powerOn();
      car.module = {
        serial: hardware.moduleSerial,
        line,
        unit,
        storageDir,
        ...(blePort ? { blePort } : {}),
      };
    }
  } catch (error) {
    await closeAll(cars, ble);
    clock.close();
    throw error;
  }
  return {
    clock,
    cars,
    ble,
    ...(bleProblem ? { bleProblem } : {}),
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
      await closeAll(cars, ble);
      clock.close();
    },
  };
}

/** One air for the fleet: a controller per module (in fleet order), then the phones'. */
async function startFleetAir(options: FleetRunnerOptions, phones: number): Promise<FleetAir> {
  const modules = options.fleet.vehicles.filter((vehicle) => vehicle.moduleHardware).length;
  const air = await VirtualAir.start({
    controllers: Math.max(1, modules + phones),
    dir: join(options.dir, 'ble'),
  });
  const phonePorts = air.ports.slice(modules);
  return {
    air,
    phonePorts,
    phoneBindings: (i) => {
      if (i < 0 || i >= phonePorts.length) {
        throw new RangeError(`no phone controller ${i} (the fleet has ${phonePorts.length})`);
      }
      return air.bindings(modules + i);
    },
  };
}

async function closeAll(cars: FleetCar[], ble: FleetAir | undefined): Promise<void> {
  for (const car of cars) {
    await car.module?.unit.powerOff();
    await car.module?.line.close();
    await car.close();
  }
  // Hosts first, then the air (a UART host whose port vanishes polls for it for 10 s).
  await ble?.air.close();
}
