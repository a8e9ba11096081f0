/**
 * What the cloud tells keyless access (PROTOCOL.md 16.5), after the cloud link has verified the
 * envelope: bookings started and ended, the revocation list (also relayed by phones), time sync,
 * the new-owner reset. Each body is checked again here (it crossed a network), and each answer
 * says what the cloud link puts in its CommandResult: applied (`ok`), already applied or older
 * (`stale`), or refused, with words for the log.
 */
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import type {
  BookingEnded,
  BookingStarted,
  BookingState,
  NewOwnerReset,
  RevocationListState,
} from '@mini-sharing/shared-protocol/link';
import {
  HolderRole,
  TOKEN_ID_LENGTH,
  verifyRevocationList,
  type RevocationListReason,
} from '@mini-sharing/shared-protocol/trust';
import type { ResultCode } from './access-events.js';
import { resultCodeForRevocationReason } from './access-events.js';
import { ENDED_BOOKING_MEMORY_MS, MAX_REVOKED_ENTRIES, pruneAccessState } from './access-state.js';
import type { AccessCore } from './access-core.js';
import type { BookingLifecycle } from './booking-lifecycle.js';

export type CloudCommandStatus = 'ok' | 'stale' | 'refused';

export interface CloudCommandOutcome {
  status: CloudCommandStatus;
  message: string;
}

export type RevocationListOutcome =
  | { ok: true; sequence: bigint; message: string }
  | { ok: false; reason: RevocationListReason; code: ResultCode; message: string };

export interface NewOwnerResetOutcome {
  confirmed: boolean;
  /** Why it was not confirmed (or a note when nothing had to change). */
  reason?: string;
}

/** The module clock is set from a time sync only when it is off by more than this. */
const CLOCK_SET_TOLERANCE_MS = 1000;
const BOOKING_ROLES = new Set([HolderRole.OWNER, HolderRole.DRIVER, HolderRole.VIP_DRIVER]);

const ok = (message: string): CloudCommandOutcome => ({ status: 'ok', message });
const stale = (message: string): CloudCommandOutcome => ({ status: 'stale', message });
const refused = (message: string): CloudCommandOutcome => ({ status: 'refused', message });

const isTime = (value: bigint): boolean => value > 0n && value <= BigInt(Number.MAX_SAFE_INTEGER);
const isBookingId = (value: string): boolean => value.length > 0 && value.length <= 256;

export class CloudCommands {
  constructor(
    private readonly core: AccessCore,
    private readonly bookings: BookingLifecycle,
  ) {}

  /** `booking_started`: the booking's key is in, and a driver's booking stops position reports. */
  bookingStarted(body: BookingStarted): Promise<CloudCommandOutcome> {
    return this.#run('booking started', async () => {
      const problem = bookingProblem(body.bookingId, body.tokenId, body.role, body.bookingEndMs);
      if (problem) return refused(problem);
      return this.#start(body.bookingId, body.tokenId, body.role, Number(body.bookingEndMs), null);
    });
  }

  /** `booking_ended`: the booking's access ends now if the car is parked, else once it is. */
  bookingEnded(body: BookingEnded): Promise<CloudCommandOutcome> {
    return this.#run('booking ended', async () => {
      if (!isBookingId(body.bookingId) && body.tokenId.length !== TOKEN_ID_LENGTH) {
        return refused('A booking end names neither a booking nor a 16-byte token');
      }
      return this.#end(body.bookingId, body.tokenId);
    });
  }

  /** The retained `state/booking`: the booking running now, or none. */
  applyBookingState(body: BookingState): Promise<CloudCommandOutcome> {
    return this.#run('booking state', async () => {
      const running = body.running;
      if (!running) {
        const booking = this.core.state.runningBooking;
        if (!booking) return stale('No booking is running here either');
        return this.#end(booking.bookingId, new Uint8Array(0));
      }
      const problem = bookingProblem(
        running.bookingId,
        running.tokenId,
        running.role,
        running.bookingEndMs,
      );
      if (problem) return refused(problem);
      const startedAtMs = isTime(running.startedAtMs) ? Number(running.startedAtMs) : null;
      return this.#start(
        running.bookingId,
        running.tokenId,
        running.role,
        Number(running.bookingEndMs),
        startedAtMs,
      );
    });
  }

  /**
   * A signed revocation list, from the cloud (retained state) or relayed by a phone: kept only if
   * it verifies, names this module and has a higher sequence than any list held before (never
   * rolled back, not even across an owner reset).
   */
  applyRevocationList(
    signedList: Uint8Array,
    source: 'cloud' | 'phone' = 'cloud',
  ): Promise<RevocationListOutcome> {
    return this.core.exclusive(async () => {
      const state = this.core.state;
      const held = BigInt(state.revocation?.sequence ?? state.revocationSequenceFloor);
      const verdict = await verifyRevocationList(signedList, {
        moduleSerial: this.core.deps.moduleSerial,
        keyRing: this.core.keyRing,
        currentSequence: state.revocation || held > 0n ? held : undefined,
      });
      const refuse = (reason: RevocationListReason, message: string): RevocationListOutcome => {
        this.core.log('warn', `refused revocation list from the ${source}: ${reason}: ${message}`);
        return { ok: false, reason, code: resultCodeForRevocationReason(reason), message };
      };
      if (!verdict.ok) return refuse(verdict.reason, verdict.message);
      const list = verdict.value;
      if (list.revoked.length > MAX_REVOKED_ENTRIES || list.revoked.some((e) => !validEntry(e))) {
        return refuse('malformed', `The list has bad or over ${MAX_REVOKED_ENTRIES} entries`);
      }
      await this.core.commit((next) => {
        next.revocation = {
          sequence: list.sequence.toString(),
          revoked: list.revoked.map((entry) => ({
            tokenId: toHex(entry.tokenId),
            notAfterMs: Number(entry.notAfterMs),
          })),
        };
        next.revocationSequenceFloor = list.sequence.toString();
        return [{ type: 'revocation-list-applied', sequence: list.sequence, source }];
      });
      this.core.log('info', `revocation list ${list.sequence} from the ${source} applied`);
      const booking = this.core.state.runningBooking;
      if (booking && this.core.isRevoked(booking.tokenId)) {
        await this.bookings.endWhenParked('revoked');
      }
      return { ok: true, sequence: list.sequence, message: `List ${list.sequence} applied` };
    });
  }

  /** The retained `state/revocation-list` body (revoking a key is publishing a new list). */
  revokeKey(body: RevocationListState): Promise<RevocationListOutcome> {
    return this.applyRevocationList(body.revocationList, 'cloud');
  }

  /**
   * A signed time sync: raises the trusted-time floor and sets the module clock, only when at or
   * above the floor (an old sync replayed does nothing).
   */
  timeSync(trustedTimeMs: number): Promise<CloudCommandOutcome> {
    return this.#run('time sync', async () => {
      if (!Number.isSafeInteger(trustedTimeMs) || trustedTimeMs <= 0) {
        return refused('The cloud time is not a time');
      }
      if (trustedTimeMs < this.core.state.trustedTimeFloorMs) {
        return stale('Older than time the module has already seen');
      }
      await this.core.commit((state) => {
        state.trustedTimeFloorMs = trustedTimeMs;
        pruneAccessState(state);
      });
      const clock = this.core.deps.clock;
      if (!clock.timeKnown || Math.abs(clock.now() - trustedTimeMs) > CLOCK_SET_TOLERANCE_MS) {
        await clock.setTime(trustedTimeMs);
      }
      return ok('Clock and trusted time set');
    });
  }

  /**
   * The car changed owner. Confirmed only with a higher owner generation and both physical keys
   * in the cabin (the reset procedure, DESIGN.md); then owner keys of older generations die, and
   * the previous era's revocation entries, bookings and counters are forgotten in one commit.
   */
  newOwnerReset(body: NewOwnerReset): Promise<NewOwnerResetOutcome> {
    return this.core.exclusive(async () => {
      const generation = body.ownerGeneration;
      const current = this.core.state.ownerGeneration;
      const outcome = await this.#checkReset(generation, current);
      if (!outcome.confirmed) {
        this.core.log('warn', `new-owner reset to ${generation} refused: ${outcome.reason}`);
        return outcome;
      }
      await this.core.commit((state) => {
        const events = this.bookings.endBookingIn(state, 'new-owner', this.core.now());
        state.ownerGeneration = generation;
        state.revocationSequenceFloor = state.revocation?.sequence ?? state.revocationSequenceFloor;
        state.revocation = undefined;
        state.counters = [];
        state.endedBookings = [];
        state.currentDrive = undefined;
        events.push({ type: 'owner-generation-raised', ownerGeneration: generation });
        return events;
      });
      this.bookings.reschedule();
      this.core.log('info', `new owner: owner generation ${current} -> ${generation}`);
      return { confirmed: true };
    });
  }

  async #checkReset(generation: number, current: number): Promise<NewOwnerResetOutcome> {
    if (!Number.isInteger(generation) || generation <= current) {
      return {
        confirmed: false,
        reason: `Owner generation ${generation} is not above the car's ${current}`,
      };
    }
    const vehicle = await this.core.readVehicleState();
    if (!vehicle) return { confirmed: false, reason: 'The car did not answer' };
    if (vehicle.keysInCabin < 2) {
      return {
        confirmed: false,
        reason: `Both physical keys must be in the car; it detects ${vehicle.keysInCabin}`,
      };
    }
    return { confirmed: true };
  }

  async #start(
    bookingId: string,
    tokenIdBytes: Uint8Array,
    role: HolderRole,
    bookingEndMs: number,
    startedAtMs: number | null,
  ): Promise<CloudCommandOutcome> {
    const tokenId = toHex(tokenIdBytes);
    const running = this.core.state.runningBooking;
    if (running?.bookingId === bookingId && running.tokenId === tokenId) {
      return stale(`Booking ${bookingId} is already running here`);
    }
    if (this.core.isRevoked(tokenId)) return refused(`The key of booking ${bookingId} is revoked`);
    const nowMs = this.core.now();
    await this.core.commit((state) =>
      this.bookings.startBookingIn(state, {
        bookingId,
        tokenId,
        role,
        bookingEndMs,
        startedAtMs: startedAtMs ?? nowMs,
        source: 'cloud',
      }),
    );
    this.bookings.reschedule();
    return ok(`Booking ${bookingId} running`);
  }

  async #end(bookingId: string, tokenIdBytes: Uint8Array): Promise<CloudCommandOutcome> {
    const tokenId = tokenIdBytes.length === TOKEN_ID_LENGTH ? toHex(tokenIdBytes) : undefined;
    const running = this.core.state.runningBooking;
    if (running && (running.bookingId === bookingId || running.tokenId === tokenId)) {
      const when = await this.bookings.endWhenParked('ended-online');
      return ok(when === 'ended' ? `Booking ${bookingId} ended` : 'Ends once the car is parked');
    }
    if (!tokenId) return stale(`Booking ${bookingId} is not running here`);
    if (this.core.state.endedBookings.some((entry) => entry.tokenId === tokenId)) {
      return stale(`Booking ${bookingId} already ended here`);
    }
    // Never seen at the car: remember it, so its key cannot start it offline later.
    const nowMs = this.core.now();
    await this.core.commit((state) => {
      state.endedBookings.push({
        tokenId,
        bookingId,
        forgetAfterMs: nowMs + ENDED_BOOKING_MEMORY_MS,
      });
      pruneAccessState(state);
    });
    return ok(`Booking ${bookingId} was not running here; its key will not start it`);
  }

  #run(what: string, task: () => Promise<CloudCommandOutcome>): Promise<CloudCommandOutcome> {
    return this.core.exclusive(async () => {
      const outcome = await task();
      if (outcome.status === 'refused')
        this.core.log('warn', `refused ${what}: ${outcome.message}`);
      return outcome;
    });
  }
}

function bookingProblem(
  bookingId: string,
  tokenId: Uint8Array,
  role: HolderRole,
  bookingEndMs: bigint,
): string | undefined {
  if (!isBookingId(bookingId)) return 'The booking id is empty or too long';
  if (tokenId.length !== TOKEN_ID_LENGTH) return 'The token id is not 16 bytes';
  if (!BOOKING_ROLES.has(role)) return `Role ${role} does not hold bookings`;
  if (!isTime(bookingEndMs)) return 'The booking end is not a time';
  return undefined;
}

const validEntry = (entry: { tokenId: Uint8Array; notAfterMs: bigint }): boolean =>
  entry.tokenId.length === TOKEN_ID_LENGTH && entry.notAfterMs <= BigInt(Number.MAX_SAFE_INTEGER);
