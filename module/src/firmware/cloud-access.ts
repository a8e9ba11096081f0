/**
 * Keyless access as the cloud link sees it. The two parts were built apart and meet only here
 * (neither imports the other):
 * - `accessCommandTarget`: the AccessController as the link's CloudCommandTarget. Its answers are
 *   `{status: 'ok' | 'stale' | 'refused'}`; the link reads `{ok, stale}` (a trust Verdict's shape).
 * - `AccessReportHold`: the controller's events (`key-used`, `access-ended`, …) as the link's
 *   report bodies (`keyUsed`, `accessEnded`, …), held from the moment the controller opens until
 *   a link takes them, so none is lost while the link starts, restarts after a re-provisioning,
 *   or does not run yet (the link's own outbox keeps them from then on).
 * - `faultReports`: the fault memory as the link's FaultCodeSource.
 */
import { AccessEndAction } from '@mini-sharing/shared-protocol/link';
import type {
  AccessEvent as LinkAccessEvent,
  CloudCommandTarget,
  FaultCodeSource,
  TargetAnswer,
} from '../cloud-link/index.js';
import type { AccessController, AccessEvent, CloudCommandStatus } from '../keyless/index.js';
import type { FaultMemory } from '../service/fault-codes.js';

/** Events kept for a link that is not there yet; beyond this the oldest go (and are counted). */
export const HELD_REPORTS_CAPACITY = 512;

const END_ACTION = {
  locked: AccessEndAction.LOCKED,
  'already-locked': AccessEndAction.ALREADY_LOCKED,
  'not-locked-open': AccessEndAction.NOT_LOCKED_OPEN,
} as const;

/**
 * What the cloud hears of an access event, stamped `nowMs` where the event has no time of its
 * own; undefined for the ones that stay in the module (bookings seen at the car, lists applied,
 * owner generation raised: the cloud caused those itself).
 */
export function linkEventOf(event: AccessEvent, nowMs: number): LinkAccessEvent | undefined {
  switch (event.type) {
    case 'key-used':
      return {
        case: 'keyUsed',
        value: {
          tokenId: event.tokenId,
          bookingId: event.bookingId,
          role: event.role,
          command: event.command,
          result: event.code,
        },
        atMs: event.timeMs,
      };
    case 'access-ended':
      return {
        case: 'accessEnded',
        value: {
          bookingId: event.bookingId,
          tokenId: event.tokenId,
          action: END_ACTION[event.action],
        },
        atMs: event.timeMs,
      };
    case 'trip-started':
      return {
        case: 'tripStarted',
        value: { bookingId: event.bookingId, tokenId: event.tokenId },
        atMs: nowMs,
      };
    case 'trip-ended':
      return {
        case: 'tripEnded',
        value: { bookingId: event.bookingId, tokenId: event.tokenId },
        atMs: nowMs,
      };
    case 'parked-position-wanted':
      return { case: 'parkedPositionWanted', atMs: nowMs };
    default:
      return undefined;
  }
}

/**
 * Holds the link's share of the access events until one consumer (the running cloud link) takes
 * them, in order; then passes them straight on until it lets go.
 */
export class AccessReportHold {
  readonly #now: () => number;
  readonly #capacity: number;
  readonly #held: LinkAccessEvent[] = [];
  #consumer: ((event: LinkAccessEvent) => void) | undefined;
  #dropped = 0;

  constructor(now: () => number, capacity = HELD_REPORTS_CAPACITY) {
    this.#now = now;
    this.#capacity = capacity;
  }

  /** Events dropped because none took them in time (the oldest go first). */
  get dropped(): number {
    return this.#dropped;
  }

  get held(): number {
    return this.#held.length;
  }

  /** The controller's listener (`startKeylessAccess({ onEvent })`). */
  readonly take = (event: AccessEvent): void => {
    const report = linkEventOf(event, Math.floor(this.#now()));
    if (!report) return;
    if (this.#consumer) {
      this.#consumer(report);
      return;
    }
    this.#held.push(report);
    if (this.#held.length > this.#capacity) {
      this.#held.shift();
      this.#dropped += 1;
    }
  };

  /** The link's `onEvent`: gets what was held, then every new event; returns its release. */
  attach(consumer: (event: LinkAccessEvent) => void): () => void {
    if (this.#consumer) throw new Error('the access reports already go to a cloud link');
    this.#consumer = consumer;
    for (const report of this.#held.splice(0)) consumer(report);
    return () => {
      if (this.#consumer === consumer) this.#consumer = undefined;
    };
  }
}

const answerOf = (outcome: { status: CloudCommandStatus; message: string }): TargetAnswer =>
  outcome.status === 'ok'
    ? { ok: true }
    : { ok: false, stale: outcome.status === 'stale', message: outcome.message };

/** The AccessController as the cloud link's command target; its events come through `reports`. */
export function accessCommandTarget(
  controller: AccessController,
  reports: AccessReportHold,
): CloudCommandTarget {
  return {
    bookingStarted: async (body) => answerOf(await controller.bookingStarted(body)),
    bookingEnded: async (body) => answerOf(await controller.bookingEnded(body)),
    // `{ok, reason, message}` already: `not-newer` is what the link reports as STALE.
    applyRevocationList: (signedBytes) => controller.applyRevocationList(signedBytes, 'cloud'),
    timeSync: async (trustedTimeMs) => answerOf(await controller.timeSync(trustedTimeMs)),
    newOwnerReset: (body) => controller.newOwnerReset(body),
    onEvent: (listener) => reports.attach(listener),
    get runningBooking() {
      const booking = controller.runningBooking;
      return (
        booking && { bookingId: booking.bookingId, tokenId: booking.tokenId, role: booking.role }
      );
    },
  };
}

/** The fault memory as the link's source of `fault_code_stored` events. */
export function faultReports(faults: FaultMemory): FaultCodeSource {
  return {
    onStored: (listener) =>
      faults.onStored((fault) =>
        listener({
          code: fault.code,
          active: fault.active,
          occurrences: fault.occurrences,
          atMs: fault.lastSeenMs,
        }),
      ),
  };
}
