// The hardware abstraction the firmware owns: firmware imports only these interfaces; a driver
// (`sim/` today, CAN/5GE later) is chosen at start-up by configuration.
import type { BleRadio } from './ble-radio.js';
import type { CellularModem } from './cellular-modem.js';
import type { GnssReceiver } from './gnss-receiver.js';
import type { ModuleClock } from './module-clock.js';
import type { SupplyMonitor } from './supply-monitor.js';
import type { VehicleInterface } from './vehicle-interface.js';

export type { HalErrorCode } from './hal-error.js';
export { HalError, isHalError } from './hal-error.js';
export type {
  Door,
  Ignition,
  VehicleEvent,
  VehicleIdentity,
  VehicleInterface,
  VehicleState,
} from './vehicle-interface.js';
export { DOORS } from './vehicle-interface.js';
export type { GnssReading, GnssReceiver } from './gnss-receiver.js';
export type { CellularModem, CellularRegistration } from './cellular-modem.js';
export type { BleRadio, BleRadioCheck } from './ble-radio.js';
export type { SupplyMonitor } from './supply-monitor.js';
export { FLASHING_MIN_MILLIVOLTS } from './supply-monitor.js';
export type { ModuleClock, ModuleClockChange } from './module-clock.js';
export { RTC_RESET_MS } from './module-clock.js';

/** Everything the firmware gets from its platform at start-up. */
export interface ModuleHal {
  vehicle: VehicleInterface;
  gnss: GnssReceiver;
  modem: CellularModem;
  bleRadio: BleRadio;
  supply: SupplyMonitor;
  clock: ModuleClock;
  /** Releases the drivers (sockets, timers); the HAL is unusable afterwards. */
  close(): Promise<void>;
}
