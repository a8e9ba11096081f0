/**
 * One simulated module on a test bench: a car from the example fleet on its vehicle bus (charger
 * on), a virtual serial line, the module's flash programmed with a factory image, the module's
 * process tree, and a host session on the line's app end with real serialport.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import type { HelloResponse } from '@mini-sharing/shared-protocol/messages';
import { ServiceSession, channelFromStream, hello } from '@mini-sharing/shared-protocol/session';
import { exampleFleet, type FleetVehicle } from '@mini-sharing/shared-protocol/vehicle';
import { VirtualSerialLine } from '../serial-line/index.js';
import { startSimulatedCar, type SimulatedCar } from '../vehicle/index.js';
import { SimulatedModule, programFactoryImage } from './simulated-module.js';

export interface ModuleRig {
  /** The host's end of the line (to change its baud rate). */
  port: SerialPort;
  car: SimulatedCar;
  line: VirtualSerialLine;
  module: SimulatedModule;
  host: ServiceSession;
  /** HELLO until the module answers as `ready` wants (it may be booting or rebooting). */
  helloWhen(
    ready?: (answer: HelloResponse) => boolean,
    deadlineMs?: number,
  ): Promise<HelloResponse>;
  close(): Promise<void>;
}

export async function startModuleRig(options: {
  factoryImage: Uint8Array;
  pick?: (vehicle: FleetVehicle) => boolean;
  timeoutMs?: number;
  /** Wire time multiplier of the serial line; default 0.05 (20x faster than real time). */
  timeScale?: number;
}): Promise<ModuleRig> {
  const dir = mkdtempSync(join(tmpdir(), 'module-rig-'));
  const fleetVehicle = exampleFleet().vehicles.find(
    (v) => v.moduleHardware !== undefined && (options.pick?.(v) ?? v.optionCodes.includes('5GE')),
  );
  if (!fleetVehicle?.moduleHardware)
    throw new Error('no such car with a module in the example fleet');
  const car = await startSimulatedCar({ fleetVehicle, socketPath: join(dir, 'vbus.sock') });
  car.vehicle.setCharger(true);
  const line = await VirtualSerialLine.open({ dir, timeScale: options.timeScale ?? 0.05 });
  const storageDir = join(dir, 'flash');
  await programFactoryImage(storageDir, options.factoryImage);
  const module = new SimulatedModule({
    output: 'pipe',
    config: {
      moduleSerial: fleetVehicle.moduleHardware.moduleSerial,
      hardwareRevision: fleetVehicle.moduleHardware.hardwareRevision,
      storageDir,
      serialPort: line.modulePath,
      vehicleBus: car.socketPath,
    },
  });
  module.powerOn();
  const port = new SerialPort({ path: line.appPath, baudRate: 115200 });
  const host = new ServiceSession({
    channel: channelFromStream(port),
    clock: systemClock,
    timeoutMs: options.timeoutMs ?? 1000,
  });

  async function helloWhen(
    ready: (answer: HelloResponse) => boolean = () => true,
    deadlineMs = 20_000,
  ) {
    const start = Date.now();
    let last: unknown;
    while (Date.now() - start < deadlineMs) {
      try {
        const answer = await hello(host, 'e2e', { timeoutMs: 500, retries: 0 });
        if (ready(answer)) return answer;
        last = `answered ${answer.firmwareVersion} in run mode ${answer.runMode}`;
        await new Promise((resolve) => setTimeout(resolve, 100));
      } catch (error) {
        last = error;
      }
    }
    throw new Error(
      `the module did not come up as expected (${String(last)})\nmodule log:\n${module.log.join('\n')}`,
      {
        cause: last,
      },
    );
  }

  return {
    port,
    car,
    line,
    module,
    host,
    helloWhen,
    close: async () => {
      host.close();
      if (port.isOpen) await new Promise((resolve) => port.close(resolve));
      await module.powerOff();
      await car.close();
      await line.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
