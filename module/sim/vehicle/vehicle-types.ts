/** What a SimulatedVehicle is made from, what it emits, how it refuses, and how it shows itself. */
import type { FleetVehicle, FuelType } from '@mini-sharing/shared-protocol/vehicle';
import type { Door, Ignition } from '../../src/hal/vehicle-interface.js';
import type { GeoPoint } from './geo.js';

export interface VehicleStartState {
  /** Default 10 000 km: a car at a dealership has been driven. */
  odometerKm?: number;
  /** Default a city of the car's market (see geo.ts). */
  position?: GeoPoint;
  /** Default 80 (cars that have a tank). */
  fuelPercent?: number;
  /** Default 80 (cars that have a high-voltage battery). */
  chargePercent?: number;
  /** Resting 12 V battery voltage; default 12.6 V. */
  batteryVolts?: number;
  /** Default true: cars wait locked. */
  locked?: boolean;
}

export interface SimulatedVehicleOptions {
  /** An entry of a fleet file read with shared-protocol's parseFleetFile. */
  fleetVehicle: FleetVehicle;
  /** Default 'petrol' when the fleet file leaves `fuel` out. */
  defaultFuel?: FuelType;
  start?: VehicleStartState;
}

/** Who worked the central lock: the module over the 5GE interface, or a person (key, button). */
export type LockActor = 'module' | 'key';

export type TripEndReason =
  /** Reached the destination (engine still running, as at the kerb). */
  | 'arrived'
  /** Tank or battery empty on the way: the engine stops where the car is. */
  | 'out-of-energy'
  /** park() or ignition off on the way. */
  | 'parked'
  /** A new drive() replaced this one. */
  | 'redirected'
  /** The 12 V battery was disconnected on the way. */
  | 'power-lost';

export interface TripEnd {
  reason: TripEndReason;
  position: GeoPoint;
  odometerKm: number;
  /** Simulated time the trip ended, ms since the Unix epoch. */
  atMs: number;
}

export interface DriveStarted {
  distanceKm: number;
  /** Simulated ms to the destination, or to where the energy runs out. */
  durationMs: number;
  arrivesAtMs: number;
  /** True when the car will run dry before the destination. */
  runsOutOfEnergy: boolean;
  /** Resolves (never rejects) when the trip ends, however it ends. */
  ended: Promise<TripEnd>;
}

export interface VehicleEvents {
  lock: [change: { locked: boolean; by: LockActor }];
  doors: [change: { door: Door; open: boolean; openDoors: Door[] }];
  ignition: [change: { ignition: Ignition; engineRunning: boolean }];
  /** The module's immobilizer release changed. */
  immobilizer: [change: { released: boolean }];
  speed: [change: { speedKmh: number }];
  keys: [change: { keysInCabin: number }];
  supply: [change: { millivolts: number }];
  /**
   * The 12 V battery was disconnected (`on: false`) or reconnected: module-sim kills the
   * module's processes on `false` and starts them again on `true`.
   */
  power: [change: { on: boolean }];
  trip: [
    change: { kind: 'started'; to: GeoPoint; speedKmh: number } | ({ kind: 'ended' } & TripEnd),
  ];
}

export type VehicleControlErrorCode =
  | 'invalid-argument'
  | 'no-power'
  | 'doors-open'
  | 'door-locked'
  | 'no-such-door'
  | 'ignition-off'
  | 'immobilized'
  | 'no-energy';

/** A command the car refuses; the car's state is unchanged. The message says what to do. */
export class VehicleControlError extends Error {
  override readonly name = 'VehicleControlError';

  constructor(
    readonly code: VehicleControlErrorCode,
    message: string,
    readonly details: { openDoors?: Door[] } = {},
  ) {
    super(message);
  }
}

/** The whole car as plain JSON, for module-sim's `show` and for tests. */
export interface VehicleSnapshot {
  vin: string;
  model: string;
  market: string;
  productionDate: string;
  optionCodes: string[];
  fuel: FuelType;
  sharingInterface: boolean;
  doors: Door[];
  powered: boolean;
  supplyMillivolts: number;
  charger: boolean;
  locked: boolean;
  openDoors: Door[];
  ignition: Ignition;
  engineRunning: boolean;
  immobilizerReleased: boolean;
  /** The car would start now: module release or a physical key in the cabin. */
  startable: boolean;
  speedKmh: number;
  odometerKm: number;
  fuelPercent?: number;
  chargePercent?: number;
  keysInCabin: number;
  position: GeoPoint;
  gnssSignal: boolean;
  /** The mobile network where the car stands, dBm; null: no network. */
  cellularSignalDbm: number | null;
  /** The workshop Bluetooth tester at the module, dBm; null: none nearby. */
  bleTesterRssiDbm: number | null;
  /** Injected faults: lock motors that do not move, an immobilizer that rejects the module. */
  centralLockFault: boolean;
  immobilizerFault: boolean;
  trip?: { to: GeoPoint; speedKmh: number; remainingKm: number; endsAtMs: number };
  /** Simulated time of the snapshot. */
  timeMs: number;
}
