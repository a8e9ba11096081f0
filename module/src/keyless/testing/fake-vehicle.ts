/**
 * An in-process VehicleInterface for policy tests: the car's state, what the module asked it to
 * do (`actuations`), and controls for the test (drive, park, doors, keys, no answer). It behaves
 * as the simulated car does where keyless access cares (locking with a door open is refused,
 * events carry the new value). Tests and benchmarks only; end-to-end tests use module/sim.
 */
import { HalError } from '../../hal/index.js';
import type { Door, VehicleEvent, VehicleInterface, VehicleState } from '../../hal/index.js';
import { EventListeners } from '../listeners.js';

export type Actuation = 'lock' | 'unlock' | 'release-immobilizer' | 'engage-immobilizer';

export class FakeVehicle implements VehicleInterface {
  readonly actuations: Actuation[] = [];
  readonly #events = new EventListeners<VehicleEvent>();
  #state: VehicleState = {
    locked: true,
    openDoors: [],
    ignition: 'off',
    engineRunning: false,
    immobilizerReleased: false,
    speedKmh: 0,
    odometerKm: 10_000,
    fuelPercent: 80,
    keysInCabin: 0,
  };
  /** When set, every request rejects with this HAL error code (the car does not answer). */
  failWith: 'timeout' | 'bus-unavailable' | undefined;

  get state(): VehicleState {
    return structuredClone(this.#state);
  }

  async readIdentity(): Promise<never> {
    throw new HalError('internal', 'not modelled');
  }

  async readState(): Promise<VehicleState> {
    this.#check();
    return this.state;
  }

  async lock(): Promise<VehicleState> {
    this.#check();
    if (this.#state.openDoors.length > 0) {
      throw new HalError('doors-open', 'an opening is open', { openDoors: this.#state.openDoors });
    }
    this.actuations.push('lock');
    this.#set({ locked: true }, { type: 'lock', locked: true });
    return this.state;
  }

  async unlock(): Promise<VehicleState> {
    this.#check();
    this.actuations.push('unlock');
    this.#set({ locked: false }, { type: 'lock', locked: false });
    return this.state;
  }

  async releaseImmobilizer(): Promise<VehicleState> {
    this.#check();
    this.actuations.push('release-immobilizer');
    this.#set({ immobilizerReleased: true }, { type: 'immobilizer', released: true });
    return this.state;
  }

  async engageImmobilizer(): Promise<VehicleState> {
    this.#check();
    this.actuations.push('engage-immobilizer');
    this.#set({ immobilizerReleased: false }, { type: 'immobilizer', released: false });
    return this.state;
  }

  onEvent(listener: (event: VehicleEvent) => void): () => void {
    return this.#events.add(listener);
  }

  // ---- the test's controls ----

  /** Ignition on and engine running (needs the immobilizer released or a key in the cabin). */
  drive(): void {
    if (!this.#state.immobilizerReleased && this.#state.keysInCabin === 0) {
      throw new Error('immobilized');
    }
    this.#set(
      { ignition: 'on', engineRunning: true, speedKmh: 50 },
      { type: 'ignition', ignition: 'on', engineRunning: true },
    );
  }

  park(): void {
    this.#set(
      { ignition: 'off', engineRunning: false, speedKmh: 0 },
      { type: 'ignition', ignition: 'off', engineRunning: false },
    );
  }

  openDoor(door: Door): void {
    if (this.#state.locked) throw new Error('door-locked');
    const openDoors = [...new Set([...this.#state.openDoors, door])];
    this.#set({ openDoors }, { type: 'doors', openDoors });
  }

  closeDoor(door: Door): void {
    const openDoors = this.#state.openDoors.filter((open) => open !== door);
    this.#set({ openDoors }, { type: 'doors', openDoors });
  }

  setKeysInCabin(keysInCabin: number): void {
    this.#set({ keysInCabin }, { type: 'keys', keysInCabin });
  }

  /** Unlocked by someone else (a physical key). */
  unlockByKey(): void {
    this.#set({ locked: false }, { type: 'lock', locked: false });
  }

  #set(change: Partial<VehicleState>, event: VehicleEvent): void {
    this.#state = { ...this.#state, ...change };
    this.#events.emit(event);
  }

  #check(): void {
    if (this.failWith) throw new HalError(this.failWith, 'the car does not answer');
  }
}
