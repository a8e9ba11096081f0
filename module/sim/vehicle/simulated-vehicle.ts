import { EventEmitter } from 'node:events';
import type { TimerHandle } from '@mini-sharing/shared-protocol/clock';
import {
  SHARING_OPTION_CODE,
  hasOptionCode,
  parseOptionCodes,
} from '@mini-sharing/shared-protocol/vehicle';
import type { GnssReading } from '../../src/hal/gnss-receiver.js';
import type {
  Door,
  Ignition,
  VehicleIdentity,
  VehicleState,
} from '../../src/hal/vehicle-interface.js';
import { Body, identityOf, round, roundLevels } from './body.js';
import type { EnergyLevels } from './energy.js';
import { initialEnergy, rangeKm, refuelled, supplyMillivolts } from './energy.js';
import type { GeoPoint } from './geo.js';
import { geoPointProblem, homePositionOf } from './geo.js';
import type { SimClock } from './sim-clock.js';
import { Trip, checkDestination } from './trip.js';
import type {
  DriveStarted,
  LockActor,
  SimulatedVehicleOptions,
  TripEnd,
  TripEndReason,
  VehicleEvents,
  VehicleSnapshot,
} from './vehicle-types.js';
import { VehicleControlError } from './vehicle-types.js';

const GNSS_ACCURACY_M = 5;
/** A typical LTE-M signal in a town, and the workshop tester at 1 m from the driver door. */
const DEFAULT_CELLULAR_SIGNAL_DBM = -85;
const DEFAULT_BLE_TESTER_RSSI_DBM = -58;

interface ActiveTrip {
  trip: Trip;
  timer: TimerHandle;
  settle: (end: TripEnd) => void;
}

/**
 * A simulated 5GE car. It behaves like a car (README "How the car behaves"): a command it
 * refuses throws VehicleControlError and changes nothing; every change emits a typed event.
 * Driving is computed from the SimClock's elapsed time, so a jump forward drives the car on and
 * a jump back undoes nothing.
 */
export class SimulatedVehicle extends EventEmitter<VehicleEvents> {
  #identity: VehicleIdentity;
  readonly #clock: SimClock;
  #powered = true;
  #charger = false;
  #restingMillivolts: number;
  readonly #body: Body;
  #ignition: Ignition = 'off';
  #engineRunning = false;
  #immobilizerReleased = false;
  #keysInCabin = 0;
  #odometerKm: number;
  #position: GeoPoint;
  #energy: EnergyLevels;
  #gnssSignal = true;
  #cellularSignalDbm: number | null = DEFAULT_CELLULAR_SIGNAL_DBM;
  #bleTesterRssiDbm: number | null = DEFAULT_BLE_TESTER_RSSI_DBM;
  #centralLockFault = false;
  #immobilizerFault = false;
  #active: ActiveTrip | undefined;

  constructor(clock: SimClock, options: SimulatedVehicleOptions) {
    super();
    const entry = options.fleetVehicle;
    this.#identity = identityOf(entry, options.defaultFuel);
    this.#clock = clock;
    const start = options.start ?? {};
    const problem = start.position === undefined ? undefined : geoPointProblem(start.position);
    if (problem !== undefined) throw new VehicleControlError('invalid-argument', problem);
    this.#position = { ...(start.position ?? homePositionOf(entry.market)) };
    this.#odometerKm = start.odometerKm ?? 10_000;
    this.#energy = initialEnergy(this.identity.fuel, start.fuelPercent, start.chargePercent);
    this.#restingMillivolts = Math.round((start.batteryVolts ?? 12.6) * 1000);
    this.#body = new Body(entry.model, this.identity.doors, start.locked ?? true);
  }

  /** The car's coding as the 5GE interface reports it. */
  get identity(): VehicleIdentity {
    return this.#identity;
  }

  /** Option 5GE coded: without it the car has no sharing interface for the module. */
  get hasSharingInterface(): boolean {
    return hasOptionCode(this.#identity.optionCodes, SHARING_OPTION_CODE);
  }

  // ---- what the 5GE interface and the module's own sensors read ----

  state(): VehicleState {
    this.#advance();
    return {
      locked: this.#body.locked,
      openDoors: this.#body.openDoors(),
      ignition: this.#ignition,
      engineRunning: this.#engineRunning,
      immobilizerReleased: this.#immobilizerReleased,
      speedKmh: this.#active?.trip.speedKmh ?? 0,
      odometerKm: round(this.#odometerKm, 1),
      ...roundLevels(this.#energy),
      keysInCabin: this.#keysInCabin,
    };
  }

  gnss(): GnssReading {
    this.#advance();
    if (!this.#gnssSignal) return { fix: false };
    return {
      fix: true,
      latitude: round(this.#position.lat, 7),
      longitude: round(this.#position.lon, 7),
      accuracyM: GNSS_ACCURACY_M,
      fixTimeMs: this.#clock.now(),
    };
  }

  /** The mobile network's signal where the car stands, dBm; null: no network at all. */
  get cellularSignalDbm(): number | null {
    return this.#cellularSignalDbm;
  }

  /** The workshop Bluetooth tester's signal at the module, dBm; null: no tester nearby. */
  get bleTesterRssiDbm(): number | null {
    return this.#bleTesterRssiDbm;
  }

  get powered(): boolean {
    return this.#powered;
  }

  /** What the module measures on its 12 V supply: 0 with the battery disconnected. */
  get supplyMillivolts(): number {
    return supplyMillivolts({
      powered: this.#powered,
      restingMillivolts: this.#restingMillivolts,
      engineRunning: this.#engineRunning,
      charger: this.#charger,
    });
  }

  // ---- commands: the module's (over the bus) and people's ----

  /** Central lock. Refuses while anything is open (README "Locking with a door open"). */
  lock(by: LockActor = 'key'): VehicleState {
    this.#requirePower('lock');
    if (this.#centralLockFault) {
      this.#body.requireAllClosed('lock');
      return this.state(); // the command arrives, the lock motors do not move
    }
    if (this.#body.setLocked(true)) this.emit('lock', { locked: true, by });
    return this.state();
  }

  unlock(by: LockActor = 'key'): VehicleState {
    this.#requirePower('unlock');
    if (this.#centralLockFault) return this.state();
    if (this.#body.setLocked(false)) this.emit('lock', { locked: false, by });
    return this.state();
  }

  /** With an immobilizer fault the car rejects the module's authentication: nothing changes. */
  releaseImmobilizer(): VehicleState {
    if (this.#immobilizerFault) {
      this.#requirePower('release the immobilizer');
      return this.state();
    }
    return this.#setImmobilizerReleased(true);
  }

  /** Stops the next start only: a running engine keeps running (a driven car is never stopped). */
  engageImmobilizer(): VehicleState {
    return this.#setImmobilizerReleased(false);
  }

  openDoor(door: Door): void {
    if (this.#body.open(door)) {
      this.emit('doors', { door, open: true, openDoors: this.#body.openDoors() });
    }
  }

  closeDoor(door: Door): void {
    if (this.#body.close(door)) {
      this.emit('doors', { door, open: false, openDoors: this.#body.openDoors() });
    }
  }

  /** Off also stops the engine and the car (as park()). */
  switchIgnition(on: boolean): void {
    this.#requirePower('switch the ignition');
    if (!on) return this.park();
    if (this.#ignition === 'on') return;
    this.#ignition = 'on';
    this.#emitIgnition();
  }

  /** Needs the ignition on and the immobilizer released (by the module or a key in the cabin). */
  startEngine(): void {
    this.#requirePower('start the engine');
    if (this.#engineRunning) return;
    if (this.#ignition !== 'on') {
      throw new VehicleControlError('ignition-off', 'Switch the ignition on first.');
    }
    this.#requireStartable();
    if (rangeKm(this.identity.fuel, this.#energy) <= 0) {
      throw new VehicleControlError('no-energy', 'The tank or battery is empty: refuel first.');
    }
    this.#setEngine(true);
  }

  /**
   * Drives in a straight line to `to` at `speedKmh` in simulated time, switching the ignition on
   * and starting the engine if needed (so the immobilizer must be released) with everything
   * closed. On arrival the car stands with the engine running; park() ends the drive.
   */
  drive(options: { to: GeoPoint; speedKmh: number }): DriveStarted {
    checkDestination(options);
    const { speedKmh } = options;
    this.#requirePower('drive');
    this.#body.requireAllClosed('drive');
    if (!this.#engineRunning) this.#requireStartable();
    this.#advance();
    if (rangeKm(this.identity.fuel, this.#energy) <= 0) {
      throw new VehicleControlError('no-energy', 'The tank or battery is empty: refuel first.');
    }
    // Every check passed: from here on the drive happens.
    if (this.#ignition !== 'on') this.switchIgnition(true);
    if (!this.#engineRunning) this.#setEngine(true);
    const previousSpeedKmh = this.#active?.trip.speedKmh ?? 0;
    if (this.#active !== undefined) this.#endTrip('redirected', { quiet: true });

    const to = { lat: options.to.lat, lon: options.to.lon };
    const start = { position: this.#position, odometerKm: this.#odometerKm, energy: this.#energy };
    const trip = new Trip(this.identity.fuel, start, to, speedKmh, this.#clock.elapsedMs());
    let settle!: (end: TripEnd) => void;
    const ended = new Promise<TripEnd>((resolve) => (settle = resolve));
    const timer = this.#clock.setTimeout(() => this.#endTrip(trip.endReason), trip.durationMs);
    this.#active = { trip, timer, settle };
    this.emit('trip', { kind: 'started', to, speedKmh });
    if (previousSpeedKmh !== speedKmh) this.emit('speed', { speedKmh });
    return {
      distanceKm: trip.distanceKm,
      durationMs: trip.durationMs,
      arrivesAtMs: this.#clock.now() + trip.durationMs,
      runsOutOfEnergy: trip.endReason === 'out-of-energy',
      ended,
    };
  }

  /** Stops where the car is: speed 0, engine off, ignition off. Does not lock. */
  park(): void {
    if (this.#active !== undefined) this.#endTrip('parked');
    if (this.#engineRunning) this.#setEngine(false);
    if (this.#ignition === 'on') {
      this.#ignition = 'off';
      this.#emitIgnition();
    }
  }

  /** Disconnects the 12 V battery: the car and the module lose power at once. */
  pullBattery(): void {
    if (!this.#powered) return;
    if (this.#active !== undefined) this.#endTrip('power-lost');
    // Everything electrical drops; the lock is mechanical and stays as it is.
    this.park();
    if (this.#immobilizerReleased) {
      this.#immobilizerReleased = false;
      this.emit('immobilizer', { released: false });
    }
    this.#powered = false;
    this.emit('supply', { millivolts: 0 });
    this.emit('power', { on: false });
  }

  restoreBattery(): void {
    if (this.#powered) return;
    this.#powered = true;
    this.emit('power', { on: true });
    this.emit('supply', { millivolts: this.supplyMillivolts });
  }

  /** The workshop charger on the 12 V battery: holds the supply at 13.6 V for programming. */
  setCharger(on: boolean): void {
    this.#changeSupply(() => (this.#charger = on));
  }

  /** The battery's resting voltage (engine off, no charger), e.g. 11.8 for a weak battery. */
  setBatteryVolts(volts: number): void {
    if (!Number.isFinite(volts) || volts < 0 || volts > 16) {
      throw new VehicleControlError('invalid-argument', `volts must be 0..16, is ${volts}`);
    }
    this.#changeSupply(() => (this.#restingMillivolts = Math.round(volts * 1000)));
  }

  /** Physical keys lying in the cabin, 0..2 (the reset procedure needs both). */
  setKeysInCabin(count: number): void {
    if (!Number.isInteger(count) || count < 0 || count > 2) {
      throw new VehicleControlError(
        'invalid-argument',
        `keys in the cabin: 0, 1 or 2, not ${count}`,
      );
    }
    if (count === this.#keysInCabin) return;
    this.#keysInCabin = count;
    this.emit('keys', { keysInCabin: count });
  }

  /** Sky or no sky: in a workshop hall or a garage there is no satellite fix. */
  setGnssSignal(available: boolean): void {
    this.#gnssSignal = available;
  }

  /**
   * Codes the car anew (as the workshop's coding tool does): option codes in fleet-file syntax.
   * Coding 5GE out removes the sharing interface the module talks through.
   */
  recode(optionCodes: readonly string[]): void {
    const parsed = parseOptionCodes(optionCodes);
    if (!parsed.ok) {
      throw new VehicleControlError('invalid-argument', `option codes: ${parsed.message}`);
    }
    this.#identity = { ...this.#identity, optionCodes: [...parsed.codes] };
  }

  /** The mobile network where the car stands, dBm (-85 in town); null: none (a basement garage). */
  setCellularSignal(dbm: number | null): void {
    this.#cellularSignalDbm = checkedDbm(dbm, 'cellular signal');
  }

  /** The workshop's Bluetooth tester next to the car, dBm at the module; null: none nearby. */
  setBleTester(rssiDbm: number | null): void {
    this.#bleTesterRssiDbm = checkedDbm(rssiDbm, 'tester signal');
  }

  /** A broken lock actuator: lock and unlock commands arrive, the locks do not move. */
  setCentralLockFault(faulty: boolean): void {
    this.#centralLockFault = faulty;
  }

  /** The immobilizer rejects the module's authentication: releasing it does nothing. */
  setImmobilizerFault(faulty: boolean): void {
    this.#immobilizerFault = faulty;
  }

  /** Refuel or recharge while parked (percent); levels the car does not have are ignored. */
  setEnergy(levels: EnergyLevels): void {
    if (this.#active !== undefined) {
      throw new VehicleControlError('invalid-argument', 'Park before refuelling.');
    }
    this.#energy = refuelled(this.#energy, levels);
  }

  snapshot(): VehicleSnapshot {
    const state = this.state();
    const active = this.#active;
    const now = this.#clock.now();
    return {
      ...this.identity,
      optionCodes: [...this.identity.optionCodes],
      doors: [...this.identity.doors],
      sharingInterface: this.hasSharingInterface,
      powered: this.#powered,
      supplyMillivolts: this.supplyMillivolts,
      charger: this.#charger,
      ...state,
      startable: this.#immobilizerReleased || this.#keysInCabin > 0,
      position: { lat: round(this.#position.lat, 7), lon: round(this.#position.lon, 7) },
      gnssSignal: this.#gnssSignal,
      cellularSignalDbm: this.#cellularSignalDbm,
      bleTesterRssiDbm: this.#bleTesterRssiDbm,
      centralLockFault: this.#centralLockFault,
      immobilizerFault: this.#immobilizerFault,
      ...(active === undefined
        ? {}
        : { trip: active.trip.progressAt(this.#clock.elapsedMs(), now) }),
      timeMs: now,
    };
  }

  /** Cancels the trip timer, for shutting module-sim down. */
  dispose(): void {
    if (this.#active !== undefined) this.#clock.clearTimeout(this.#active.timer);
  }

  // ---- inside ----

  /** Brings position, odometer and energy up to the clock. */
  #advance(): void {
    const trip = this.#active?.trip;
    if (trip !== undefined) this.#moveTo(trip, trip.kmAt(this.#clock.elapsedMs()));
  }

  #moveTo(trip: Trip, km: number): void {
    const point = trip.pointAfter(km);
    this.#position = point.position;
    this.#odometerKm = point.odometerKm;
    this.#energy = point.energy;
  }

  #endTrip(reason: TripEndReason, options: { quiet?: boolean } = {}): void {
    const active = this.#active;
    if (active === undefined) return;
    const { trip } = active;
    // The trip's own timer: stop exactly at the planned point, whatever float rounding says.
    this.#moveTo(
      trip,
      reason === trip.endReason ? trip.plannedKm : trip.kmAt(this.#clock.elapsedMs()),
    );
    this.#clock.clearTimeout(active.timer);
    this.#active = undefined;
    const end: TripEnd = {
      reason,
      position: { ...this.#position },
      odometerKm: round(this.#odometerKm, 1),
      atMs: this.#clock.now(),
    };
    this.emit('trip', { kind: 'ended', ...end });
    if (options.quiet !== true) this.emit('speed', { speedKmh: 0 });
    if (reason === 'out-of-energy') this.#setEngine(false);
    active.settle(end);
  }

  #setImmobilizerReleased(released: boolean): VehicleState {
    this.#requirePower(released ? 'release the immobilizer' : 'engage the immobilizer');
    if (this.#immobilizerReleased !== released) {
      this.#immobilizerReleased = released;
      this.emit('immobilizer', { released });
    }
    return this.state();
  }

  #setEngine(running: boolean): void {
    this.#changeSupply(() => (this.#engineRunning = running));
    this.#emitIgnition();
  }

  #requireStartable(): void {
    if (this.#immobilizerReleased || this.#keysInCabin > 0) return;
    throw new VehicleControlError(
      'immobilized',
      'The immobilizer is engaged: the module must release it, or a key must be in the cabin.',
    );
  }

  #requirePower(action: string): void {
    if (this.#powered) return;
    throw new VehicleControlError(
      'no-power',
      `Cannot ${action}: the 12 V battery is disconnected. Restore it first.`,
    );
  }

  #emitIgnition(): void {
    this.emit('ignition', { ignition: this.#ignition, engineRunning: this.#engineRunning });
  }

  /** Runs a change and emits `supply` when it moved the supply voltage. */
  #changeSupply(change: () => void): void {
    const before = this.supplyMillivolts;
    change();
    const after = this.supplyMillivolts;
    if (after !== before) this.emit('supply', { millivolts: after });
  }
}

function checkedDbm(dbm: number | null, what: string): number | null {
  if (dbm === null) return null;
  if (!Number.isFinite(dbm) || dbm < -150 || dbm > 0) {
    throw new VehicleControlError('invalid-argument', `${what}: -150..0 dBm or null, not ${dbm}`);
  }
  return dbm;
}
