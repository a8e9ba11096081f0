// The simulated 5GE car, its module's RTC, the simulated clock, and the vehicle bus that serves
// them to the firmware's sim drivers on a Unix socket.
export type { Door, Ignition, VehicleIdentity, VehicleState } from '../../src/hal/index.js';
export { DOORS } from '../../src/hal/index.js';
export type { GeoPoint } from './geo.js';
export { distanceKm } from './geo.js';
export type { EnergyLevels } from './energy.js';
export type { SimClockEvents, SimClockOptions } from './sim-clock.js';
export { SimClock } from './sim-clock.js';
export { SimulatedVehicle } from './simulated-vehicle.js';
export type {
  DriveStarted,
  LockActor,
  SimulatedVehicleOptions,
  TripEnd,
  TripEndReason,
  VehicleControlErrorCode,
  VehicleEvents,
  VehicleSnapshot,
  VehicleStartState,
} from './vehicle-types.js';
export { VehicleControlError } from './vehicle-types.js';
export type { ModuleRtcEvents, RtcChange, RtcReading } from './module-rtc.js';
export { ModuleRtc } from './module-rtc.js';
export { ModuleRadios } from './module-radios.js';
export type { VehicleBusServerEvents, VehicleBusServerOptions } from './vehicle-bus-server.js';
export { VehicleBusServer } from './vehicle-bus-server.js';
export type { SimulatedCar, SimulatedCarOptions } from './simulated-car.js';
export { startSimulatedCar } from './simulated-car.js';
