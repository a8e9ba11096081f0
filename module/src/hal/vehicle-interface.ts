/**
 * The car as the firmware sees it through the 5GE sharing interface. A CAN/5GE driver and the
 * simulated bus driver (`sim/`) both implement this; firmware logic depends on nothing else.
 */
import type { FuelType } from '@mini-sharing/shared-protocol/vehicle';

/** Every opening the car reports (the service link's and module link's Door enums, in words). */
export const DOORS = [
  'front-left',
  'front-right',
  'rear-left',
  'rear-right',
  'tailgate',
  'bonnet',
] as const;
export type Door = (typeof DOORS)[number];

/** The car's own coding, read through the 5GE interface (never from the fleet file or cloud). */
export interface VehicleIdentity {
  vin: string;
  model: string;
  /** ISO 3166-1 alpha-2 market the car is coded for. */
  market: string;
  /** YYYY-MM-DD. */
  productionDate: string;
  /** Vehicle order option codes as coded in the car, normalised and sorted. */
  optionCodes: string[];
  fuel: FuelType;
  /** The openings this body has (a 3-door car has no rear doors). */
  doors: Door[];
}

export type Ignition = 'off' | 'on';

export interface VehicleState {
  locked: boolean;
  /** Openings that are open now; empty when all are closed. */
  openDoors: Door[];
  ignition: Ignition;
  engineRunning: boolean;
  /**
   * The module has released the immobilizer. A physical key in the cabin also lets the car
   * start (`keysInCabin > 0`): that is the car's own immobilizer, not the module's to command.
   */
  immobilizerReleased: boolean;
  speedKmh: number;
  /** Kilometres, to 0.1 km. */
  odometerKm: number;
  /** Tank level, 0–100: petrol, diesel and plug-in hybrids. */
  fuelPercent?: number;
  /** High-voltage battery state of charge, 0–100: electric cars and plug-in hybrids. */
  chargePercent?: number;
  /** Physical keys the car detects in the cabin, 0–2 (the reset procedure needs both). */
  keysInCabin: number;
}

/** Pushed by the car when something changes; the payload is the new value, not a delta. */
export type VehicleEvent =
  | { type: 'doors'; openDoors: Door[] }
  | { type: 'lock'; locked: boolean }
  | { type: 'ignition'; ignition: Ignition; engineRunning: boolean }
  | { type: 'immobilizer'; released: boolean }
  | { type: 'speed'; speedKmh: number }
  | { type: 'keys'; keysInCabin: number };

export interface VehicleInterface {
  /** Rejects with HalError `no-sharing-interface` on a car without 5GE. */
  readIdentity(): Promise<VehicleIdentity>;
  readState(): Promise<VehicleState>;
  /** Central lock. Rejects with `doors-open` (and changes nothing) while anything is open. */
  lock(): Promise<VehicleState>;
  unlock(): Promise<VehicleState>;
  /** Lets the car start. Never stops a running engine (nor does engaging). */
  releaseImmobilizer(): Promise<VehicleState>;
  /** Stops the next start; a car being driven keeps going. */
  engageImmobilizer(): Promise<VehicleState>;
  /** Returns the function that unsubscribes. */
  onEvent(listener: (event: VehicleEvent) => void): () => void;
}
