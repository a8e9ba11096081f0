/**
 * One simulated module on a test bench: a car from the example fleet on its vehicle bus (charger
 * on), a virtual serial line, the module's flash programmed with a factory image, the module's
 * process tree, and a host session on the line's app end with real serialport. On request
 * (`ble`), a virtual BLE air with the module's Bluetooth controller and one for a test phone; and
 * (`broker`) an MQTT broker for the module's cloud link, with the module link's access rule.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import type { HelloResponse } from '@mini-sharing/shared-protocol/messages';
import { ServiceSession, channelFromStream, hello } from '@mini-sharing/shared-protocol/session';
import { exampleFleet, type FleetVehicle } from '@mini-sharing/shared-protocol/vehicle';
import { VirtualAir, type HciUartBindings } from '../ble-air/index.js';
import { VirtualSerialLine } from '../serial-line/index.js';
import { startSimulatedCar, type SimulatedCar } from '../vehicle/index.js';
import { openModuleStorage, type SlotInfo } from '../../src/storage/index.js';
import { readBootState } from '../../src/service/boot-records.js';
import {
  CLOUD_CLIENT_PREFIX,
  CLOUD_PASSWORD,
  MODULE_PASSWORD,
  startTestBroker,
  type TestBroker,
} from '../../src/cloud-link/testing/broker.js';
import type { BootState } from '../../src/boot/boot-decision.js';
import { SimulatedModule, programFactoryImage } from './simulated-module.js';

/** What the module's flash holds, read while it is powered off. */
export interface ModuleFlashState {
  boot: BootState;
  slots: Record<'A' | 'B', SlotInfo>;
}

/** The rig's BLE air: the module's controller (index 0) and a test phone's (index 1). */
export interface ModuleRigAir {
  air: VirtualAir;
  /** The module's controller (its config's blePort). */
  modulePort: string;
  /** `withBindings('hci', phone)` (noble) opens the test phone's controller. */
  phone: HciUartBindings;
}

/** The rig's MQTT broker (aedes, loopback): where the module's cloud link can be pointed. */
export interface ModuleRigBroker {
  /** `mqtt://127.0.0.1:<port>`: the module-link settings' broker URL. */
  url: string;
  /** The module logs in with its serial as client id and user name, and this password. */
  modulePassword: string;
  /** A cloud client: a client id starting with this prefix, and this password. */
  cloud: { clientIdPrefix: string; password: string };
  /** Publishes and subscriptions the access rule refused, as "client: topic". */
  refused: string[];
}

export interface ModuleRig {
  /** The host's end of the line (to change its baud rate); a new one after `reconnectHost`. */
  readonly port: SerialPort;
  car: SimulatedCar;
  line: VirtualSerialLine;
  module: SimulatedModule;
  /** The host session on `port`; a new one after `reconnectHost`. */
  readonly host: ServiceSession;
  /** The folder standing in for the module's flash. */
  storageDir: string;
  /** With `ble`: the air, the module's controller and the test phone's. */
  ble: ModuleRigAir | undefined;
  /** With `broker`: the broker the test points the module-link settings at. */
  broker: ModuleRigBroker | undefined;
  /**
   * Drops the host's port and session and opens new ones at `baudRate` (default 115200): after an
   * unplug (the old port closed) or to start over at the initial rate after the module rebooted.
   */
  reconnectHost(baudRate?: number): Promise<void>;
  /** Sets the host port's rate (the `setLocalBaudRate` of a ServiceClient). */
  setHostBaudRate(baudRate: number): Promise<void>;
  /**
   * Puts the module's flash back to the factory state (the factory image in slot A, nothing else,
   * as programmed at start). Only while powered off; far cheaper than flashing it back.
   */
  restoreFactoryFlash(): Promise<void>;
  /** Boot state and both slots as the flash holds them. Only while powered off. */
  readFlash(): Promise<ModuleFlashState>;
  /**
   * HELLO until the module answers as `ready` wants (it may be booting or rebooting); each
   * attempt waits `attemptMs` (default 500) for the answer.
   */
  helloWhen(
    ready?: (answer: HelloResponse) => boolean,
    deadlineMs?: number,
    attemptMs?: number,
  ): Promise<HelloResponse>;
  close(): Promise<void>;
}

export async function startModuleRig(options: {
  factoryImage: Uint8Array;
  pick?: (vehicle: FleetVehicle) => boolean;
  timeoutMs?: number;
  /** Wire time multiplier of the serial line; default 0.05 (20x faster than real time). */
  timeScale?: number;
  /**
   * A virtual BLE air with two controllers, the module's and a test phone's (needs socat).
   * `timeScale`: the air's (default 0.1: connection intervals ten times shorter).
   */
  ble?: boolean | { timeScale?: number };
  /** An MQTT broker for the module's cloud link (aedes with the module link's access rule). */
  broker?: boolean;
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
  const air = options.ble
    ? await VirtualAir.start({
        controllers: 2,
        dir: join(dir, 'ble'),
        timeScale: (typeof options.ble === 'object' ? options.ble.timeScale : undefined) ?? 0.1,
      })
    : undefined;
  const testBroker: TestBroker | undefined = options.broker ? await startTestBroker() : undefined;
  const storageDir = join(dir, 'flash');
  // programmed once; restoreFactoryFlash copies it back
  const factoryDir = join(dir, 'factory-flash');
  await programFactoryImage(factoryDir, options.factoryImage);
  await cp(factoryDir, storageDir, { recursive: true });
  const module = new SimulatedModule({
    output: 'pipe',
    config: {
      moduleSerial: fleetVehicle.moduleHardware.moduleSerial,
      hardwareRevision: fleetVehicle.moduleHardware.hardwareRevision,
      storageDir,
      serialPort: line.modulePath,
      vehicleBus: car.socketPath,
      ...(air ? { blePort: air.port(0) } : {}),
    },
  });
  module.powerOn();
  const openHost = (baudRate: number, autoOpen = true) => {
    const port = new SerialPort({ path: line.appPath, baudRate, autoOpen });
    port.on('error', () => {}); // an unplugged port fails its writes; the session reports it
    const host = new ServiceSession({
      channel: channelFromStream(port),
      clock: systemClock,
      timeoutMs: options.timeoutMs ?? 1000,
    });
    return { port, host };
  };
  let { port, host } = openHost(115200);
  const closeHost = async () => {
    host.close();
    const closing = port;
    if (closing.isOpen) await new Promise((resolve) => closing.close(resolve));
  };
  const assertOff = (what: string) => {
    if (module.poweredOn) throw new Error(`${what} needs the module powered off`);
  };

  async function helloWhen(
    ready: (answer: HelloResponse) => boolean = () => true,
    deadlineMs = 20_000,
    attemptMs = 500,
  ) {
    const start = Date.now();
    let last: unknown;
    while (Date.now() - start < deadlineMs) {
      try {
        const answer = await hello(host, 'e2e', { timeoutMs: attemptMs, retries: 0 });
        if (ready(answer)) return answer;
        last = `answered ${answer.firmwareVersion} in run mode ${answer.runMode}`;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, attemptMs)));
      } catch (error) {
        last = error;
        // a closed session (unplugged) fails at once: do not spin
        await new Promise((resolve) => setTimeout(resolve, 20));
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
    get port() {
      return port;
    },
    car,
    line,
    module,
    get host() {
      return host;
    },
    storageDir,
    ble: air && { air, modulePort: air.port(0), phone: air.bindings(1) },
    broker: testBroker && {
      url: testBroker.url,
      modulePassword: MODULE_PASSWORD,
      cloud: { clientIdPrefix: CLOUD_CLIENT_PREFIX, password: CLOUD_PASSWORD },
      refused: testBroker.refused,
    },
    helloWhen,
    reconnectHost: async (baudRate = 115200) => {
      await closeHost();
      ({ port, host } = openHost(baudRate, false));
      const opening = port;
      await new Promise<void>((resolve, reject) =>
        opening.open((error) => (error ? reject(error) : resolve())),
      );
    },
    setHostBaudRate: (baudRate) =>
      new Promise<void>((resolve, reject) =>
        port.update({ baudRate }, (error) => (error ? reject(error) : resolve())),
      ),
    restoreFactoryFlash: async () => {
      assertOff('restoreFactoryFlash');
      await rm(storageDir, { recursive: true, force: true });
      await cp(factoryDir, storageDir, { recursive: true });
    },
    readFlash: async () => {
      assertOff('readFlash');
      const storage = await openModuleStorage(storageDir);
      try {
        return {
          boot: await readBootState(storage.records),
          slots: { A: await storage.slots.info('A'), B: await storage.slots.info('B') },
        };
      } finally {
        await storage.close();
      }
    },
    close: async () => {
      await closeHost();
      await module.powerOff();
      await car.close();
      await line.close();
      await air?.close(); // after the module: hosts first
      await testBroker?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
