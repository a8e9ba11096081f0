/** The car's body: its coding, which openings it has, which are open, and the central lock. */
import type { FleetVehicle, FuelType } from '@mini-sharing/shared-protocol/vehicle';
import type { Door, VehicleIdentity } from '../../src/hal/vehicle-interface.js';
import { DOORS } from '../../src/hal/vehicle-interface.js';
import type { EnergyLevels } from './energy.js';
import { VehicleControlError } from './vehicle-types.js';

/** 3-door and 2-door bodies (and convertibles, coupés, roadsters) have no rear doors. */
export function doorsOf(model: string): Door[] {
  const twoDoors = /\b[23][- ]?door\b|convertible|cabrio|coupe|roadster/i.test(model);
  return DOORS.filter((door) => !(twoDoors && door.startsWith('rear-')));
}

/** The car's coding, as the 5GE interface reports it. A fleet entry without `fuel` is petrol. */
export function identityOf(entry: FleetVehicle, defaultFuel: FuelType = 'petrol'): VehicleIdentity {
  return {
    vin: entry.vin,
    model: entry.model,
    market: entry.market,
    productionDate: entry.productionDate,
    optionCodes: [...entry.optionCodes],
    fuel: entry.fuel ?? defaultFuel,
    doors: doorsOf(entry.model),
  };
}

/**
 * Doors and central lock as one state machine. Methods return whether anything changed (the
 * vehicle emits the events) and throw VehicleControlError, changing nothing, when refused.
 */
export class Body {
  readonly #open = new Set<Door>();

  constructor(
    readonly model: string,
    readonly doors: readonly Door[],
    public locked: boolean,
  ) {}

  openDoors(): Door[] {
    return this.doors.filter((door) => this.#open.has(door));
  }

  /** Locking with anything open is refused: see README ("Locking with a door open"). */
  setLocked(locked: boolean): boolean {
    if (locked) this.requireAllClosed('lock');
    if (this.locked === locked) return false;
    this.locked = locked;
    return true;
  }

  open(door: Door): boolean {
    this.#requireDoor(door);
    if (this.#open.has(door)) return false;
    if (this.locked) {
      throw new VehicleControlError(
        'door-locked',
        `The ${door} is locked and does not open from outside: unlock the car first.`,
      );
    }
    this.#open.add(door);
    return true;
  }

  close(door: Door): boolean {
    this.#requireDoor(door);
    return this.#open.delete(door);
  }

  requireAllClosed(action: string): void {
    const openDoors = this.openDoors();
    if (openDoors.length === 0) return;
    const them = openDoors.length === 1 ? 'it' : 'them';
    throw new VehicleControlError(
      'doors-open',
      `Cannot ${action}: ${openDoors.join(', ')} open. Close ${them} first.`,
      { openDoors },
    );
  }

  #requireDoor(door: Door): void {
    if (this.doors.includes(door)) return;
    throw new VehicleControlError(
      'no-such-door',
      `This ${this.model} has no ${String(door)}; it has ${this.doors.join(', ')}.`,
    );
  }
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Levels as the car's instruments show them: to 0.1 %. */
export function roundLevels(levels: EnergyLevels): EnergyLevels {
  const out: EnergyLevels = {};
  if (levels.fuelPercent !== undefined) out.fuelPercent = round(levels.fuelPercent, 1);
  if (levels.chargePercent !== undefined) out.chargePercent = round(levels.chargePercent, 1);
  return out;
}
