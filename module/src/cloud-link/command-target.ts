/**
 * What the cloud link hands verified cloud commands to, and the reports it takes in. The keyless
 * access controller (module/src/keyless) implements `CloudCommandTarget`; fault codes come from
 * a `FaultCodeSource`. Bodies are the generated types of shared-protocol's link payloads.
 */
import type {
  BookingEnded,
  BookingStarted,
  ModuleBodyInit,
  NewOwnerReset,
  RunningBooking,
} from '@mini-sharing/shared-protocol/link';

/**
 * How a target took a command: nothing or `{ok: true}` when it applied it; otherwise why not.
 * `stale` (or trust's `not-newer` reason) means "what I hold is newer" and is reported as STALE;
 * any other refusal as REFUSED. A thrown error is reported as INTERNAL. A trust `Verdict` fits.
 */
export type TargetAnswer =
  void | { ok: true } | { ok: false; stale?: boolean; reason?: string; message?: string };

/** The booking the target runs now, as far as the link cares (who holds it, for positions). */
export type TargetBooking = Pick<RunningBooking, 'bookingId' | 'tokenId' | 'role'>;

/** A module event body (ModuleEvent's oneof), with when it happened (default: when emitted). */
export type ModuleEventInit = Exclude<
  NonNullable<Extract<ModuleBodyInit, { case: 'event' }>['value']['kind']>,
  { case: undefined }
> & { atMs?: number };

/**
 * What the access controller tells the cloud: `keyUsed` (which key, which command, result),
 * `tripStarted` / `tripEnded` (a booking started and ended at the car: the trip log),
 * `accessEnded` (an overdue booking's access ended with the car parked, and the auto-lock's
 * outcome), and `parkedPositionWanted` (a driver's booking is over and the car is parked: send
 * the parking position now, PROTOCOL.md 16.5 "Location rule").
 */
export type AccessEvent = ModuleEventInit | { case: 'parkedPositionWanted'; atMs?: number };

/**
 * The module side of the cloud's commands. Every method is called only with a verified command
 * (signature, module, expiry, at most once by id), one at a time, in arrival order. The link
 * persists the ids it executed, so the target must keep what it applied across restarts too.
 *
 * There is no revoke-key command in the protocol: revoking a key is the cloud publishing a new
 * signed revocation list on the retained state topic (PROTOCOL.md 16.5), which arrives here as
 * `applyRevocationList` — the same path a phone's relayed list takes.
 */
export interface CloudCommandTarget {
  /** Let the booking's key in; a driver's booking also makes `runningBooking` a driver's. */
  bookingStarted(body: BookingStarted): TargetAnswer | Promise<TargetAnswer>;
  /** End the booking's access once the car is parked. */
  bookingEnded(body: BookingEnded): TargetAnswer | Promise<TargetAnswer>;
  /**
   * An encoded signed `mini.trust.v1.RevocationList`: keep it only if it verifies and its
   * sequence is higher than the one held (answer `not-newer`/`stale` otherwise).
   */
  applyRevocationList(signedBytes: Uint8Array): TargetAnswer | Promise<TargetAnswer>;
  /**
   * The cloud's time: raise the trusted time floor. Refuse (`stale`) when it is below the floor
   * (an old time sync replayed); the link sets the module clock only when this accepts.
   */
  timeSync(trustedTimeMs: number): TargetAnswer | Promise<TargetAnswer>;
  /**
   * The car changed owner. Confirm only with both physical keys in the cabin and a higher owner
   * generation; then forget the previous owner's era (revocation list, running booking, counters).
   */
  newOwnerReset(body: NewOwnerReset): Promise<{ confirmed: boolean; reason?: string }>;
  /** Reports to publish (see AccessEvent); returns the function that unsubscribes. */
  onEvent(listener: (event: AccessEvent) => void): () => void;
  /** The booking running now, or undefined: no position is sent while a driver's runs. */
  readonly runningBooking: TargetBooking | undefined;
}

/** A fault code the module stored (from the diagnostics' fault memory). */
export interface StoredFaultCode {
  /** DTC shape, e.g. "B1C42". */
  code: string;
  /** Present now (default true) or only stored from the past. */
  active?: boolean;
  occurrences?: number;
  /** When it was stored; default: when emitted. */
  atMs?: number;
}

export interface FaultCodeSource {
  onStored(listener: (fault: StoredFaultCode) => void): () => void;
}
