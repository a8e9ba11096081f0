/**
 * The state keyless access works on, shared by its parts (key checks, bookings and drives, cloud
 * commands): the persistent access state with its durable commit, one queue every change runs
 * in, the event listeners and the log. Tasks run through `exclusive`; inside a task, call the
 * other parts' unqueued methods only (the queue is not re-entrant).
 */
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import { CloudKeyRing } from '@mini-sharing/shared-protocol/trust';
import type { ModuleClock, VehicleInterface, VehicleState } from '../hal/index.js';
import type { AccessEvent, CarStateView, KeylessLog, LogLevel } from './access-events.js';
import type { AccessState, AccessStateStore } from './access-state.js';
import { EventListeners, ExclusiveQueue } from './listeners.js';

export const KEYLESS_COMPONENT = 'keyless';

export interface AccessControllerDeps {
  moduleSerial: string;
  /** The cloud signing keys the module trusts now (undefined: not provisioned, trusts none). */
  keyRing: () => CloudKeyRing | undefined;
  vehicle: VehicleInterface;
  clock: ModuleClock;
  store: AccessStateStore;
  log: KeylessLog;
}

export const carStateOf = (state: VehicleState): CarStateView => ({
  locked: state.locked,
  allClosed: state.openDoors.length === 0,
  ignitionOn: state.ignition === 'on',
  driveEnabled: state.immobilizerReleased,
});

export class AccessCore {
  readonly #queue = new ExclusiveQueue();
  readonly #events = new EventListeners<AccessEvent>();
  #state: AccessState;
  #revoked = new Set<string>();
  #closed = false;

  private constructor(
    readonly deps: AccessControllerDeps,
    state: AccessState,
    /** Trusts nothing: what an unprovisioned module checks keys against. */
    readonly emptyKeyRing: CloudKeyRing,
  ) {
    this.#state = state;
    this.#indexRevocations();
  }

  static async open(deps: AccessControllerDeps): Promise<AccessCore> {
    const state = await deps.store.load((problem) =>
      deps.log('error', KEYLESS_COMPONENT, `access state lost, starting empty: ${problem}`),
    );
    const { ring } = await CloudKeyRing.fromCertificates(new Uint8Array(32), []);
    return new AccessCore(deps, state, ring);
  }

  /** The current state: read it, never change it (use `commit`). */
  get state(): Readonly<AccessState> {
    return this.#state;
  }

  get keyRing(): CloudKeyRing {
    return this.deps.keyRing() ?? this.emptyKeyRing;
  }

  now(): number {
    return this.deps.clock.now();
  }

  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#queue.run(task);
  }

  /**
   * Applies `mutate` to a copy, stores it durably, then makes it current and emits the events
   * `mutate` returned (so nothing is announced that a power cut could undo). Inside a task only.
   */
  async commit(mutate: (state: AccessState) => AccessEvent[] | void): Promise<void> {
    if (this.#closed) throw new Error('keyless access is closed');
    const next = structuredClone(this.#state);
    const events = mutate(next) ?? [];
    await this.deps.store.save(next);
    this.#state = next;
    this.#indexRevocations();
    for (const event of events) this.emit(event);
  }

  isRevoked(tokenId: Uint8Array | string): boolean {
    return this.#revoked.has(typeof tokenId === 'string' ? tokenId : toHex(tokenId));
  }

  onEvent(listener: (event: AccessEvent) => void): () => void {
    return this.#events.add(listener);
  }

  emit(event: AccessEvent): void {
    this.#events.emit(event);
  }

  log(level: LogLevel, message: string): void {
    this.deps.log(level, KEYLESS_COMPONENT, message);
  }

  /** The car's state, or undefined (logged) when it does not answer. */
  async readVehicleState(): Promise<VehicleState | undefined> {
    try {
      return await this.deps.vehicle.readState();
    } catch (error) {
      this.log('warn', `the car did not report its state: ${String(error)}`);
      return undefined;
    }
  }

  /** Waits for the running task, then refuses further commits. */
  async close(): Promise<void> {
    await this.#queue.run(async () => {
      this.#closed = true;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #indexRevocations(): void {
    this.#revoked = new Set(this.#state.revocation?.revoked.map((entry) => entry.tokenId));
  }
}
