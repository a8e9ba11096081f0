/**
 * What keyless access must remember across power cuts (issue #7): counters per token, the
 * trusted-time floor, the revocation list with its sequence, the owner generation, the running
 * booking, the current drive, and the bookings whose access already ended. One JSON record,
 * replaced atomically (storage/README.md), so a cut leaves the old state or the new one and an
 * owner reset or a command never half-applies.
 */
import { HolderRole } from '@mini-sharing/shared-protocol/trust';
import type { RecordStore } from '../storage/index.js';
import { StorageError } from '../storage/index.js';

export const ACCESS_STATE_RECORD = 'keyless-access';
const FORMAT_VERSION = 1;
/** Bookings whose access ended are remembered this long at most (a key lasts up to 31 days). */
export const ENDED_BOOKING_MEMORY_MS = 32 * 24 * 3600 * 1000;
/** Bounds on what the record holds, so no sequence of keys can grow it without limit. */
export const MAX_COUNTERS = 512;
export const MAX_ENDED_BOOKINGS = 64;
export const MAX_REVOKED_ENTRIES = 4096;

export interface TokenCounter {
  /** Hex of the 16-byte token id. */
  tokenId: string;
  /** Highest command counter accepted under the token (decimal, a u64). */
  counter: string;
  /** The key's notAfter: once the trusted floor passes it the counter is no longer needed. */
  notAfterMs: number;
}

export interface RevocationState {
  /** Sequence of the list held (decimal, a u64). */
  sequence: string;
  /** Revoked token ids (hex) with their key's notAfter. */
  revoked: Array<{ tokenId: string; notAfterMs: number }>;
}

export type BookingSource = 'cloud' | 'first-key-use';

/** A booking the module knows is running at the car. */
export interface RunningBookingState {
  bookingId: string;
  tokenId: string;
  role: HolderRole;
  startedAtMs: number;
  /** The booking's planned end. */
  bookingEndMs: number;
  /** When the booking's key stops opening the car: the end plus 30 minutes. */
  notAfterMs: number;
  source: BookingSource;
  /** Ended online, or its key revoked, while the car was driven: it ends once parked. */
  pendingEnd: PendingBookingEnd | null;
}

export type PendingBookingEnd = 'ended-online' | 'revoked';

/** A drive the module released the immobilizer for. */
export interface CurrentDriveState {
  tokenId: string;
  bookingId: string;
  role: HolderRole;
  notAfterMs: number;
  enabledAtMs: number;
  /** The ignition came on under this drive (a trip started). */
  moving: boolean;
}

export interface EndedBookingState {
  tokenId: string;
  bookingId: string;
  forgetAfterMs: number;
}

export interface AccessState {
  trustedTimeFloorMs: number;
  ownerGeneration: number;
  /** The list held; undefined: none (or cleared by an owner reset). */
  revocation: RevocationState | undefined;
  /**
   * The highest list sequence ever held: an owner reset clears the entries but keeps this, so a
   * list of the previous era can never be replayed in.
   */
  revocationSequenceFloor: string;
  counters: TokenCounter[];
  runningBooking: RunningBookingState | undefined;
  currentDrive: CurrentDriveState | undefined;
  endedBookings: EndedBookingState[];
}

export const emptyAccessState = (): AccessState => ({
  trustedTimeFloorMs: 0,
  ownerGeneration: 0,
  revocation: undefined,
  revocationSequenceFloor: '0',
  counters: [],
  runningBooking: undefined,
  currentDrive: undefined,
  endedBookings: [],
});

// ---- validation at the storage edge (a record read back must have exactly this shape) ----

type Check = (value: unknown) => boolean;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isTime: Check = (value) => Number.isSafeInteger(value) && (value as number) >= 0;
const isU64: Check = (value) =>
  typeof value === 'string' && /^\d{1,20}$/.test(value) && BigInt(value) < 2n ** 64n;
const isTokenHex: Check = (value) => typeof value === 'string' && /^[0-9a-f]{32}$/.test(value);
const isText: Check = (value) => typeof value === 'string' && value.length <= 256;
const isRole: Check = (value) =>
  typeof value === 'number' && Object.values(HolderRole).includes(value);
const isBool: Check = (value) => typeof value === 'boolean';
const shape =
  (fields: Record<string, Check>): Check =>
  (value) =>
    isObject(value) &&
    Object.keys(value).every((key) => key in fields) &&
    Object.entries(fields).every(([key, check]) => check(value[key]));
const listOf =
  (item: Check, max: number): Check =>
  (value) =>
    Array.isArray(value) && value.length <= max && value.every(item);
const optional =
  (check: Check): Check =>
  (value) =>
    value === null || check(value);

const isRunningBooking = shape({
  bookingId: isText,
  tokenId: isTokenHex,
  role: isRole,
  startedAtMs: isTime,
  bookingEndMs: isTime,
  notAfterMs: isTime,
  source: (value) => value === 'cloud' || value === 'first-key-use',
  pendingEnd: (value) => value === null || value === 'ended-online' || value === 'revoked',
});
const isCurrentDrive = shape({
  tokenId: isTokenHex,
  bookingId: isText,
  role: isRole,
  notAfterMs: isTime,
  enabledAtMs: isTime,
  moving: isBool,
});

/** The record as stored: `undefined` fields are `null` in JSON. */
interface StoredAccessState {
  version: number;
  trustedTimeFloorMs: number;
  ownerGeneration: number;
  revocation: RevocationState | null;
  revocationSequenceFloor: string;
  counters: TokenCounter[];
  runningBooking: RunningBookingState | null;
  currentDrive: CurrentDriveState | null;
  endedBookings: EndedBookingState[];
}

const isStoredAccessState = shape({
  version: (value) => value === FORMAT_VERSION,
  trustedTimeFloorMs: isTime,
  ownerGeneration: (value) => Number.isInteger(value) && (value as number) >= 0,
  revocation: optional(
    shape({
      sequence: isU64,
      revoked: listOf(shape({ tokenId: isTokenHex, notAfterMs: isTime }), MAX_REVOKED_ENTRIES),
    }),
  ),
  revocationSequenceFloor: isU64,
  counters: listOf(
    shape({ tokenId: isTokenHex, counter: isU64, notAfterMs: isTime }),
    MAX_COUNTERS,
  ),
  runningBooking: optional(isRunningBooking),
  currentDrive: optional(isCurrentDrive),
  endedBookings: listOf(
    shape({ tokenId: isTokenHex, bookingId: isText, forgetAfterMs: isTime }),
    MAX_ENDED_BOOKINGS,
  ),
}) as (value: unknown) => value is StoredAccessState;

const toStored = (state: AccessState): StoredAccessState => ({
  version: FORMAT_VERSION,
  ...state,
  revocation: state.revocation ?? null,
  runningBooking: state.runningBooking ?? null,
  currentDrive: state.currentDrive ?? null,
});

const fromStored = (stored: StoredAccessState): AccessState => ({
  trustedTimeFloorMs: stored.trustedTimeFloorMs,
  ownerGeneration: stored.ownerGeneration,
  revocation: stored.revocation ?? undefined,
  revocationSequenceFloor: stored.revocationSequenceFloor,
  counters: stored.counters,
  runningBooking: stored.runningBooking ?? undefined,
  currentDrive: stored.currentDrive ?? undefined,
  endedBookings: stored.endedBookings,
});

/**
 * Drops what can no longer matter once the trusted floor has passed it, so the record stays
 * small: counters of keys past their notAfter (the floor keeps such keys dead even if the clock
 * is set back) except the current drive's, and ended bookings past their memory. Keeps the
 * newest when over the bounds (counters of the keys that expire first go first). Revocation
 * entries are kept as the cloud signed them: it leaves out expired keys itself.
 */
export function pruneAccessState(state: AccessState): void {
  const floor = state.trustedTimeFloorMs;
  const driving = state.currentDrive?.tokenId;
  const kept = state.counters.filter((entry) => entry.tokenId === driving);
  const others = state.counters
    .filter((entry) => entry.tokenId !== driving && entry.notAfterMs >= floor)
    .sort((a, b) => b.notAfterMs - a.notAfterMs)
    .slice(0, MAX_COUNTERS - kept.length);
  state.counters = [...kept, ...others];
  state.endedBookings = state.endedBookings
    .filter((entry) => entry.forgetAfterMs >= floor)
    .slice(-MAX_ENDED_BOOKINGS);
}

/** Reads and writes the access state record. */
export class AccessStateStore {
  constructor(private readonly records: RecordStore) {}

  /**
   * The stored state, or an empty one. A damaged record is reported through `onDamaged` and
   * replaced by an empty state: the cloud's retained state (revocation list, booking) comes
   * back on the next connection, and every command needs a fresh challenge anyway.
   */
  async load(onDamaged: (problem: string) => void = () => undefined): Promise<AccessState> {
    try {
      const stored = await this.records.getJson(ACCESS_STATE_RECORD, isStoredAccessState);
      return stored ? fromStored(stored) : emptyAccessState();
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      onDamaged(error.message);
      return emptyAccessState();
    }
  }

  /** Resolves once the state survives a power cut. */
  async save(state: AccessState): Promise<void> {
    await this.records.putJson(ACCESS_STATE_RECORD, toStored(state), isStoredAccessState);
  }
}
