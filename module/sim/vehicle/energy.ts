/**
 * Energy: what a drive costs in fuel or charge, by fuel type, and the 12 V supply. Typical MINI figures (WLTP-ish), so levels
 * fall at a believable rate; nothing depends on the exact numbers.
 */
import type { FuelType } from '@mini-sharing/shared-protocol/vehicle';
import { VehicleControlError } from './vehicle-types.js';

/** Tank level and state of charge in percent; each present only where the car has one. */
export interface EnergyLevels {
  fuelPercent?: number;
  chargePercent?: number;
}

/** Percent of tank or battery per kilometre. */
const PETROL_PERCENT_PER_KM = 6.5 / 44; // 6.5 l/100 km, 44 l tank: ~680 km
const DIESEL_PERCENT_PER_KM = 5 / 45; // ~900 km
const ELECTRIC_PERCENT_PER_KM = 16 / 54.2; // 16 kWh/100 km, 54.2 kWh: ~340 km
// Plug-in hybrids drive electrically until the battery is empty, then on petrol.
const PHEV_CHARGE_PERCENT_PER_KM = 18 / 10; // 10 kWh battery: ~55 km
const PHEV_FUEL_PERCENT_PER_KM = 6.5 / 36;

export function initialEnergy(fuel: FuelType, fuelPercent = 80, chargePercent = 80): EnergyLevels {
  switch (fuel) {
    case 'petrol':
    case 'diesel':
      return { fuelPercent };
    case 'electric':
      return { chargePercent };
    case 'plug-in-hybrid':
      return { fuelPercent, chargePercent };
  }
}

/** How far the car gets on what it has. */
export function rangeKm(fuel: FuelType, levels: EnergyLevels): number {
  const fuelLeft = levels.fuelPercent ?? 0;
  const chargeLeft = levels.chargePercent ?? 0;
  switch (fuel) {
    case 'petrol':
      return fuelLeft / PETROL_PERCENT_PER_KM;
    case 'diesel':
      return fuelLeft / DIESEL_PERCENT_PER_KM;
    case 'electric':
      return chargeLeft / ELECTRIC_PERCENT_PER_KM;
    case 'plug-in-hybrid':
      return chargeLeft / PHEV_CHARGE_PERCENT_PER_KM + fuelLeft / PHEV_FUEL_PERCENT_PER_KM;
  }
}

/** Levels after driving `km` from `start` (never below 0). */
export function levelsAfter(fuel: FuelType, start: EnergyLevels, km: number): EnergyLevels {
  const drop = (level: number | undefined, perKm: number, distance: number) =>
    level === undefined ? undefined : Math.max(0, level - perKm * distance);
  switch (fuel) {
    case 'petrol':
      return { fuelPercent: drop(start.fuelPercent, PETROL_PERCENT_PER_KM, km) ?? 0 };
    case 'diesel':
      return { fuelPercent: drop(start.fuelPercent, DIESEL_PERCENT_PER_KM, km) ?? 0 };
    case 'electric':
      return { chargePercent: drop(start.chargePercent, ELECTRIC_PERCENT_PER_KM, km) ?? 0 };
    case 'plug-in-hybrid': {
      const charge = start.chargePercent ?? 0;
      const electricKm = Math.min(km, charge / PHEV_CHARGE_PERCENT_PER_KM);
      return {
        chargePercent: Math.max(0, charge - PHEV_CHARGE_PERCENT_PER_KM * electricKm),
        fuelPercent: drop(start.fuelPercent ?? 0, PHEV_FUEL_PERCENT_PER_KM, km - electricKm) ?? 0,
      };
    }
  }
}

/** Levels after refuelling or recharging to `wanted`; levels the car does not have are ignored. */
export function refuelled(current: EnergyLevels, wanted: EnergyLevels): EnergyLevels {
  for (const [key, value] of Object.entries(wanted)) {
    if (value !== undefined && (!Number.isFinite(value) || value < 0 || value > 100)) {
      throw new VehicleControlError('invalid-argument', `${key} must be 0..100, is ${value}`);
    }
  }
  const next = { ...current };
  if (wanted.fuelPercent !== undefined && next.fuelPercent !== undefined) {
    next.fuelPercent = wanted.fuelPercent;
  }
  if (wanted.chargePercent !== undefined && next.chargePercent !== undefined) {
    next.chargePercent = wanted.chargePercent;
  }
  return next;
}

const RUNNING_MILLIVOLTS = 14_200; // alternator or DC/DC converter
const CHARGER_MILLIVOLTS = 13_600; // a workshop charger in programming mode: ≥ 13.0 V

/** What the module measures on its 12 V supply: 0 with the battery disconnected. */
export function supplyMillivolts(electrics: {
  powered: boolean;
  restingMillivolts: number;
  engineRunning: boolean;
  charger: boolean;
}): number {
  if (!electrics.powered) return 0;
  let millivolts = electrics.restingMillivolts;
  if (electrics.engineRunning) millivolts = Math.max(millivolts, RUNNING_MILLIVOLTS);
  if (electrics.charger) millivolts = Math.max(millivolts, CHARGER_MILLIVOLTS);
  return millivolts;
}
