/**
 * Keyless access, the policy engine between the key link and the car (no BLE in here): one
 * object the key link session, the cloud link and diagnostics talk to. Its parts:
 * - key-checks.ts: a presented key and a signed command, verified, ruled on, carried out;
 * - booking-lifecycle.ts: bookings and drives at the car, the overdue rule;
 * - cloud-commands.ts: what the cloud tells the module about keys and bookings;
 * - access-core.ts: the persistent state (access-state.ts), its queue, events and log.
 */
import type {
  BookingEnded,
  BookingStarted,
  BookingState,
  NewOwnerReset,
  RevocationListState,
} from '@mini-sharing/shared-protocol/link';
import type { AccessEvent, AccessRefusal, CarStateView, RunningBooking } from './access-events.js';
import { AccessCore, carStateOf, type AccessControllerDeps } from './access-core.js';
import type { AccessState } from './access-state.js';
import { BookingLifecycle } from './booking-lifecycle.js';
import {
  CloudCommands,
  type CloudCommandOutcome,
  type NewOwnerResetOutcome,
  type RevocationListOutcome,
} from './cloud-commands.js';
import {
  KeyChecks,
  type CommandAccepted,
  type CommandRefused,
  type IssuedChallenge,
  type KeyAccepted,
} from './key-checks.js';

export type { AccessControllerDeps };

export class AccessController {
  readonly #core: AccessCore;
  readonly #bookings: BookingLifecycle;
  readonly #keys: KeyChecks;
  readonly #cloud: CloudCommands;
  readonly #unsubscribe: Array<() => void> = [];

  private constructor(core: AccessCore) {
    this.#core = core;
    this.#bookings = new BookingLifecycle(core);
    this.#keys = new KeyChecks(core, this.#bookings);
    this.#cloud = new CloudCommands(core, this.#bookings);
  }

  /**
   * Loads the stored state, follows the car (ignition: trips, parking) and the clock, and settles
   * what a power cut left open (a drive that ended while the module was off, an overdue booking).
   * `onEvent` hears every event from the start, those of that settling included (`onEvent()`
   * after open would miss them).
   */
  static async open(
    deps: AccessControllerDeps,
    onEvent?: (event: AccessEvent) => void,
  ): Promise<AccessController> {
    const controller = new AccessController(await AccessCore.open(deps));
    if (onEvent) controller.#unsubscribe.push(controller.onEvent(onEvent));
    controller.#unsubscribe.push(
      deps.vehicle.onEvent((event) => controller.#bookings.onVehicleEvent(event)),
      deps.clock.onChange(() => controller.#bookings.onClockChange()),
    );
    await controller.#bookings.resume();
    return controller;
  }

  // ---- the key link ----

  /** A presented digital key: accepted (the session then sends a challenge) or refused. */
  presentKey(tokenBytes: Uint8Array): Promise<KeyAccepted | AccessRefusal> {
    return this.#keys.presentKey(tokenBytes);
  }

  /** A signed command answering `challenge`: carried out, or refused with its reason. */
  executeCommand(
    tokenBytes: Uint8Array,
    commandBytes: Uint8Array,
    challenge: IssuedChallenge,
  ): Promise<CommandAccepted | CommandRefused> {
    return this.#keys.executeCommand(tokenBytes, commandBytes, challenge);
  }

  /** The car as a key holder sees it; undefined when the car does not answer. */
  async carState(): Promise<CarStateView | undefined> {
    const state = await this.#core.readVehicleState();
    return state && carStateOf(state);
  }

  // ---- the cloud link (bodies of verified cloud envelopes) ----

  bookingStarted(body: BookingStarted): Promise<CloudCommandOutcome> {
    return this.#cloud.bookingStarted(body);
  }

  bookingEnded(body: BookingEnded): Promise<CloudCommandOutcome> {
    return this.#cloud.bookingEnded(body);
  }

  /** The retained `state/booking` body. */
  applyBookingState(body: BookingState): Promise<CloudCommandOutcome> {
    return this.#cloud.applyBookingState(body);
  }

  /** A signed revocation list from the cloud or relayed by a phone (the same rule for both). */
  applyRevocationList(
    signedList: Uint8Array,
    source: 'cloud' | 'phone' = 'cloud',
  ): Promise<RevocationListOutcome> {
    return this.#cloud.applyRevocationList(signedList, source);
  }

  /** The retained `state/revocation-list` body: revoking a key is publishing a new list. */
  revokeKey(body: RevocationListState): Promise<RevocationListOutcome> {
    return this.#cloud.revokeKey(body);
  }

  /** A verified time sync's cloud time: raises the trusted-time floor and sets the clock. */
  timeSync(trustedTimeMs: number): Promise<CloudCommandOutcome> {
    return this.#cloud.timeSync(trustedTimeMs);
  }

  /** Confirmed only with a higher generation and both physical keys in the cabin. */
  newOwnerReset(body: NewOwnerReset): Promise<NewOwnerResetOutcome> {
    return this.#cloud.newOwnerReset(body);
  }

  // ---- what other parts read ----

  /** The booking running at the car (`positionAllowed(runningBooking)` before any position). */
  get runningBooking(): RunningBooking | undefined {
    return this.#bookings.runningBooking;
  }

  get trustedTimeFloorMs(): number {
    return this.#core.state.trustedTimeFloorMs;
  }

  get ownerGeneration(): number {
    return this.#core.state.ownerGeneration;
  }

  /** Sequence of the revocation list held; 0n: none. */
  get revocationListSequence(): bigint {
    return BigInt(this.#core.state.revocation?.sequence ?? '0');
  }

  /** A copy of the persistent state, for diagnostics and tests. */
  snapshot(): AccessState {
    return structuredClone(this.#core.state) as AccessState;
  }

  /**
   * Key uses (with their result), bookings started and ended at the car, access ended after an
   * overdue booking, parking position wanted, trips, revocation lists applied, owner resets.
   */
  onEvent(listener: (event: AccessEvent) => void): () => void {
    return this.#core.onEvent(listener);
  }

  /** Resolves once every task queued so far (commands, car events, timers) has run. */
  async settled(): Promise<void> {
    await this.#core.exclusive(async () => undefined);
  }

  /** Stops following the car and the clock (after the running task); the state stays stored. */
  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#bookings.close();
    await this.#core.close();
  }
}
