/**
 * Bookings and drives at the car (issue #7, DESIGN.md "Rules from the product"):
 * - a booking runs from the cloud's `booking_started`, or from the first use of its key when the
 *   car was offline, until it ends online, its key is revoked, or its key expires with the car
 *   parked;
 * - a drive (immobilizer released under a key) goes on whatever happens to the key: a car being
 *   driven is never stopped. Ends that wait for parking happen at the next ignition off;
 * - when an overdue driver's access ends with the car parked, unlocked and all closed, the module
 *   locks it, engages the immobilizer and reports it.
 * Methods without "queued" in their description run inside an AccessCore task.
 */
import { fromHex, toHex } from '@mini-sharing/shared-protocol/crypto';
import type { HolderRole } from '@mini-sharing/shared-protocol/trust';
import { DRIVER_KEY_GRACE_MS, type DigitalKey } from '@mini-sharing/shared-protocol/trust';
import type { TimerHandle } from '@mini-sharing/shared-protocol/clock';
import type { VehicleEvent } from '../hal/index.js';
import type {
  AccessEndAction,
  AccessEvent,
  BookingEndReason,
  RunningBooking,
} from './access-events.js';
import { bookingEndOf, isDriverRole } from './access-policy.js';
import type { AccessState, PendingBookingEnd, RunningBookingState } from './access-state.js';
import type { AccessCore } from './access-core.js';

/** While an overdue car is still driven, look again this often (in case an event was missed). */
const DRIVEN_RECHECK_MS = 60_000;
/** When the car does not answer, try again after this long. */
const NO_ANSWER_RETRY_MS = 10_000;
/** Module clock timers are capped: a long wait is cut into days. */
const MAX_TIMER_MS = 24 * 3600 * 1000;

export const runningBookingView = (booking: RunningBookingState): RunningBooking => ({
  bookingId: booking.bookingId,
  tokenId: fromHex(booking.tokenId),
  role: booking.role,
  startedAtMs: booking.startedAtMs,
  bookingEndMs: booking.bookingEndMs,
  notAfterMs: booking.notAfterMs,
  source: booking.source,
});

export interface BookingStart {
  bookingId: string;
  tokenId: string;
  role: HolderRole;
  bookingEndMs: number;
  startedAtMs: number;
  source: RunningBookingState['source'];
}

export class BookingLifecycle {
  readonly #core: AccessCore;
  #timer: TimerHandle | undefined;

  constructor(core: AccessCore) {
    this.#core = core;
  }

  get runningBooking(): RunningBooking | undefined {
    const booking = this.#core.state.runningBooking;
    return booking && runningBookingView(booking);
  }

  // ---- queued entry points ----

  /** Queued. At start-up: settle a drive that ended while the module was off, then evaluate. */
  resume(): Promise<void> {
    return this.#core.exclusive(async () => {
      const drive = this.#core.state.currentDrive;
      if (drive) {
        const vehicle = await this.#core.readVehicleState();
        if (vehicle?.ignition === 'off' && drive.moving) await this.#endDrive();
        else if (vehicle?.ignition === 'on' && !drive.moving) await this.#driveMoving();
      }
      await this.evaluate();
    });
  }

  /** Queued. The car reported something: trips start and end with the ignition. */
  onVehicleEvent(event: VehicleEvent): void {
    if (event.type !== 'ignition') return;
    this.#queued(async () => {
      const drive = this.#core.state.currentDrive;
      if (event.ignition === 'on') {
        if (drive && !drive.moving) await this.#driveMoving();
        return;
      }
      if (drive?.moving) await this.#endDrive();
      await this.evaluate();
    });
  }

  /** Queued. The module clock jumped or was set: an end may be due now, or later. */
  onClockChange(): void {
    this.#queued(() => this.evaluate());
  }

  close(): void {
    this.#clearTimer();
  }

  // ---- inside a task ----

  /**
   * Ends what is due: a booking ended online or revoked while driven, once parked; an overdue
   * driver's booking, once parked, locking the car. Then sets the timer for the next due time.
   */
  async evaluate(): Promise<void> {
    this.#clearTimer();
    const booking = this.#core.state.runningBooking;
    if (!booking || this.#core.closed) return;
    const nowMs = this.#core.now();
    const overdue = isDriverRole(booking.role) && nowMs > booking.notAfterMs;
    if (!overdue && !booking.pendingEnd) {
      if (isDriverRole(booking.role)) this.#schedule(booking.notAfterMs - nowMs + 1);
      return;
    }
    const vehicle = await this.#core.readVehicleState();
    if (!vehicle) return this.#schedule(NO_ANSWER_RETRY_MS);
    // Parked means the ignition is off; until then the ignition-off event brings us back.
    if (vehicle.ignition === 'on') return this.#schedule(DRIVEN_RECHECK_MS);
    if (booking.pendingEnd) return this.endBookingNow(booking.pendingEnd);
    const action = await this.#secureParkedCar();
    await this.#core.commit((state) => [
      {
        type: 'access-ended',
        bookingId: booking.bookingId,
        tokenId: fromHex(booking.tokenId),
        action,
        timeMs: nowMs,
      },
      ...this.endBookingIn(state, 'overdue', nowMs),
    ]);
    this.#core.log(
      'info',
      `booking ${booking.bookingId} overdue and parked: Bluetooth access ended (${action})`,
    );
  }

  /** End the running booking now if parked, else once parked. */
  async endWhenParked(reason: PendingBookingEnd): Promise<'ended' | 'when-parked'> {
    const vehicle = await this.#core.readVehicleState();
    if (vehicle?.ignition === 'off') {
      await this.endBookingNow(reason);
      return 'ended';
    }
    await this.#core.commit((state) => {
      if (state.runningBooking) state.runningBooking.pendingEnd = reason;
    });
    this.#schedule(vehicle ? DRIVEN_RECHECK_MS : NO_ANSWER_RETRY_MS);
    return 'when-parked';
  }

  async endBookingNow(reason: BookingEndReason): Promise<void> {
    const drive = this.#core.state.currentDrive;
    const booking = this.#core.state.runningBooking;
    if (drive && booking && drive.tokenId === booking.tokenId) await this.#engageImmobilizer();
    await this.#core.commit((state) => this.endBookingIn(state, reason, this.#core.now()));
    this.reschedule();
  }

  /**
   * Within a commit: forget the running booking (remembering its key as ended), drop its drive,
   * and return the events to announce.
   */
  endBookingIn(state: AccessState, reason: BookingEndReason, nowMs: number): AccessEvent[] {
    const booking = state.runningBooking;
    if (!booking) return [];
    state.runningBooking = undefined;
    state.endedBookings = state.endedBookings.filter((entry) => entry.tokenId !== booking.tokenId);
    state.endedBookings.push({
      tokenId: booking.tokenId,
      bookingId: booking.bookingId,
      forgetAfterMs: Math.max(booking.notAfterMs, nowMs),
    });
    const events: AccessEvent[] = [];
    if (state.currentDrive?.tokenId === booking.tokenId) {
      events.push(...this.#dropDriveIn(state));
    }
    events.push({ type: 'booking-ended-at-car', booking: runningBookingView(booking), reason });
    if (isDriverRole(booking.role)) {
      events.push({ type: 'parked-position-wanted', bookingId: booking.bookingId });
    }
    return events;
  }

  /** Within a commit: make `start` the running booking, ending another one first. */
  startBookingIn(state: AccessState, start: BookingStart): AccessEvent[] {
    const events: AccessEvent[] = [];
    if (state.runningBooking)
      events.push(...this.endBookingIn(state, 'superseded', start.startedAtMs));
    state.endedBookings = state.endedBookings.filter((entry) => entry.tokenId !== start.tokenId);
    state.runningBooking = {
      ...start,
      notAfterMs: start.bookingEndMs + DRIVER_KEY_GRACE_MS,
      pendingEnd: null,
    };
    events.push({
      type: 'booking-started-at-car',
      booking: runningBookingView(state.runningBooking),
    });
    return events;
  }

  /**
   * Within a commit: an accepted command under a driver's key of a booking the module did not know
   * was running (the car was offline when it started) starts it here.
   */
  noteKeyUseIn(state: AccessState, key: DigitalKey, nowMs: number): AccessEvent[] {
    if (!isDriverRole(key.role) || key.bookingId === '') return [];
    const tokenId = toHex(key.tokenId);
    if (state.endedBookings.some((entry) => entry.tokenId === tokenId)) return [];
    const running = state.runningBooking;
    if (running?.bookingId === key.bookingId) {
      running.tokenId = tokenId;
      running.notAfterMs = Number(key.notAfterMs);
      return [];
    }
    const events = this.startBookingIn(state, {
      bookingId: key.bookingId,
      tokenId,
      role: key.role,
      bookingEndMs: bookingEndOf(key),
      startedAtMs: nowMs,
      source: 'first-key-use',
    });
    // The key's own notAfter is what counts (the cloud set it; no rounding through the end).
    if (state.runningBooking) state.runningBooking.notAfterMs = Number(key.notAfterMs);
    return events;
  }

  /** ENABLE_DRIVE was carried out: the drive belongs to this key. */
  async driveEnabled(key: DigitalKey, nowMs: number, ignitionOn: boolean): Promise<void> {
    await this.#core.commit((state) => {
      const events = state.currentDrive ? this.#dropDriveIn(state) : [];
      state.currentDrive = {
        tokenId: toHex(key.tokenId),
        bookingId: key.bookingId,
        role: key.role,
        notAfterMs: Number(key.notAfterMs),
        enabledAtMs: nowMs,
        moving: ignitionOn,
      };
      if (ignitionOn) events.push(this.#tripEvent('trip-started', state.currentDrive));
      return events;
    });
  }

  /** END was carried out (locked, immobilizer engaged): the drive is over. */
  async useEnded(): Promise<void> {
    if (!this.#core.state.currentDrive) return;
    await this.#core.commit((state) => this.#dropDriveIn(state));
  }

  /** After any change to the running booking: when to look again. */
  reschedule(): void {
    const booking = this.#core.state.runningBooking;
    if (!booking) return this.#clearTimer();
    this.#schedule(booking.pendingEnd ? 0 : Math.max(0, booking.notAfterMs - this.#core.now() + 1));
  }

  // ---- internals ----

  async #driveMoving(): Promise<void> {
    await this.#core.commit((state) => {
      if (!state.currentDrive) return [];
      state.currentDrive.moving = true;
      return [this.#tripEvent('trip-started', state.currentDrive)];
    });
  }

  /** The car was parked after a drive the module enabled: the next start needs a key again. */
  async #endDrive(): Promise<void> {
    await this.#engageImmobilizer();
    await this.#core.commit((state) => this.#dropDriveIn(state));
  }

  #dropDriveIn(state: AccessState): AccessEvent[] {
    const drive = state.currentDrive;
    state.currentDrive = undefined;
    return drive?.moving ? [this.#tripEvent('trip-ended', drive)] : [];
  }

  #tripEvent(
    type: 'trip-started' | 'trip-ended',
    drive: NonNullable<AccessState['currentDrive']>,
  ): AccessEvent {
    return { type, bookingId: drive.bookingId, tokenId: fromHex(drive.tokenId), role: drive.role };
  }

  /** Lock a parked, unlocked, all-closed car; engage the immobilizer whatever the doors. */
  async #secureParkedCar(): Promise<AccessEndAction> {
    const vehicle = this.#core.deps.vehicle;
    let action: AccessEndAction;
    try {
      const state = await vehicle.readState();
      if (state.locked) action = 'already-locked';
      else if (state.openDoors.length > 0) action = 'not-locked-open';
      else {
        await vehicle.lock();
        action = 'locked';
      }
    } catch (error) {
      this.#core.log('warn', `could not lock the parked car: ${String(error)}`);
      action = 'not-locked-open';
    }
    await this.#engageImmobilizer();
    return action;
  }

  async #engageImmobilizer(): Promise<void> {
    try {
      await this.#core.deps.vehicle.engageImmobilizer();
    } catch (error) {
      this.#core.log('warn', `could not engage the immobilizer: ${String(error)}`);
    }
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    if (this.#core.closed) return;
    const clock = this.#core.deps.clock;
    this.#timer = clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#queued(() => this.evaluate());
      },
      Math.min(Math.max(0, delayMs), MAX_TIMER_MS),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#core.deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #queued(task: () => Promise<void>): void {
    if (this.#core.closed) return;
    this.#core.exclusive(task).catch((error: unknown) => {
      if (!this.#core.closed) this.#core.log('error', `booking rules failed: ${String(error)}`);
    });
  }
}
