/**
 * One drive in a straight line at a constant speed, as pure arithmetic on simulated elapsed
 * time: where the car is, what the odometer says and what is left in the tank, at any moment.
 * Computed from the trip's start each time, so no error builds up however often it is read.
 */
import type { FuelType } from '@mini-sharing/shared-protocol/vehicle';
import type { EnergyLevels } from './energy.js';
import { levelsAfter, rangeKm } from './energy.js';
import type { GeoPoint } from './geo.js';
import { distanceKm, geoPointProblem, interpolate } from './geo.js';
import { VehicleControlError } from './vehicle-types.js';

const MS_PER_HOUR = 3_600_000;
const MAX_SPEED_KMH = 250;

/** Throws `invalid-argument` unless `to` is a place on Earth and the speed one a MINI drives. */
export function checkDestination(options: { to: GeoPoint; speedKmh: number }): void {
  const problem = geoPointProblem(options.to);
  if (problem !== undefined) throw new VehicleControlError('invalid-argument', `to: ${problem}`);
  const { speedKmh } = options;
  if (typeof speedKmh !== 'number' || !(speedKmh > 0 && speedKmh <= MAX_SPEED_KMH)) {
    throw new VehicleControlError(
      'invalid-argument',
      `speedKmh must be above 0 and at most ${MAX_SPEED_KMH}, is ${String(speedKmh)}`,
    );
  }
}

export interface TripPoint {
  position: GeoPoint;
  odometerKm: number;
  energy: EnergyLevels;
}

export class Trip {
  readonly distanceKm: number;
  /** Where it stops: the destination, or less when the energy runs out on the way. */
  readonly plannedKm: number;
  readonly endReason: 'arrived' | 'out-of-energy';
  /** Simulated ms from start to stop. */
  readonly durationMs: number;

  constructor(
    readonly fuel: FuelType,
    readonly start: TripPoint,
    readonly to: GeoPoint,
    readonly speedKmh: number,
    readonly startElapsedMs: number,
  ) {
    this.distanceKm = distanceKm(start.position, to);
    this.plannedKm = Math.min(this.distanceKm, rangeKm(fuel, start.energy));
    this.endReason = this.plannedKm < this.distanceKm ? 'out-of-energy' : 'arrived';
    this.durationMs = (this.plannedKm / speedKmh) * MS_PER_HOUR;
  }

  /** Kilometres driven by `elapsedMs` on the clock's elapsed timeline. */
  kmAt(elapsedMs: number): number {
    const hours = (elapsedMs - this.startElapsedMs) / MS_PER_HOUR;
    return Math.min(this.plannedKm, Math.max(0, hours * this.speedKmh));
  }

  pointAfter(km: number): TripPoint {
    const fraction = this.distanceKm === 0 ? 1 : km / this.distanceKm;
    return {
      position: interpolate(this.start.position, this.to, fraction),
      odometerKm: this.start.odometerKm + km,
      energy: levelsAfter(this.fuel, this.start.energy, km),
    };
  }

  /** For a snapshot: where it goes, and how far and how long to the stop. */
  progressAt(elapsedMs: number, nowMs: number) {
    const remainingKm = this.plannedKm - this.kmAt(elapsedMs);
    return {
      to: { ...this.to },
      speedKmh: this.speedKmh,
      remainingKm: Math.round(remainingKm * 1000) / 1000,
      endsAtMs: Math.round(nowMs + (remainingKm / this.speedKmh) * MS_PER_HOUR),
    };
  }
}
