// The firmware's drivers for the simulated world: the vehicle bus, GNSS, modem, Bluetooth radio,
// supply monitor and RTC that module-sim serves on a Unix socket. Chosen at start-up by
// configuration, never imported by firmware logic (which sees only ../index.ts).
import type { Clock } from '@mini-sharing/shared-protocol/clock';
import type { ModuleHal } from '../index.js';
import { BusClient } from './bus-client.js';
import { monotonicRealTime } from './scaled-clock.js';
import {
  SimBleRadio,
  SimCellularModem,
  SimGnssReceiver,
  SimSupplyMonitor,
  SimVehicleInterface,
} from './sim-devices.js';
import { SimModuleClock } from './sim-module-clock.js';

export type { BusClientOptions, BusClientStats, BusConnectionChange } from './bus-client.js';
export { BusClient } from './bus-client.js';
export {
  SimBleRadio,
  SimCellularModem,
  SimGnssReceiver,
  SimSupplyMonitor,
  SimVehicleInterface,
} from './sim-devices.js';
export { SimModuleClock } from './sim-module-clock.js';
export { BUS_PROTOCOL_VERSION, MAX_LINE_BYTES } from './bus-protocol.js';

export interface SimHalOptions {
  /** The module's vehicle bus socket, as module-sim made it. */
  socketPath: string;
  /** Per request, including a wait for the connection; default 2000 ms. */
  requestTimeoutMs?: number;
  /** How long start-up waits for the bus and the first clock reading; default 5000 ms. */
  connectTimeoutMs?: number;
  /** Real, monotonic time and timers; default the process's. */
  realTime?: Clock;
}

export interface SimHal extends ModuleHal {
  vehicle: SimVehicleInterface;
  gnss: SimGnssReceiver;
  modem: SimCellularModem;
  bleRadio: SimBleRadio;
  supply: SimSupplyMonitor;
  clock: SimModuleClock;
  /** The connection, for its state and stats (the firmware's diagnostics may show them). */
  bus: BusClient;
}

/**
 * Connects to module-sim's vehicle bus and reads the RTC once. Rejects with HalError
 * `bus-unavailable` when nothing answers within `connectTimeoutMs`.
 */
export async function openSimHal(options: SimHalOptions): Promise<SimHal> {
  const realTime = options.realTime ?? monotonicRealTime;
  const bus = new BusClient({
    socketPath: options.socketPath,
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: options.requestTimeoutMs }),
    timers: realTime,
  });
  let clock: SimModuleClock;
  try {
    clock = await SimModuleClock.open(bus, realTime, options.connectTimeoutMs ?? 5000);
  } catch (error) {
    await bus.close();
    throw error;
  }
  return {
    bus,
    vehicle: new SimVehicleInterface(bus),
    gnss: new SimGnssReceiver(bus),
    modem: new SimCellularModem(bus),
    bleRadio: new SimBleRadio(bus),
    supply: new SimSupplyMonitor(bus),
    clock,
    close: async () => {
      clock.dispose();
      await bus.close();
    },
  };
}
