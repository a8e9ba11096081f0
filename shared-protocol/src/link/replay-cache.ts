/**
 * A bounded memory of envelope ids already accepted. When it is full of ids that have not
 * expired, it forgets the oldest-issued one and from then on refuses everything issued at or
 * before that time: refusing a late, old envelope is safe (the cloud re-sends a fresh one);
 * accepting a replay is not.
 */
import { toHex } from '../crypto/bytes.js';

/** Times of the envelope being checked, and the checker's clock when it can be trusted. */
export interface ReplayTimes {
  issuedAtMs: number;
  /** When the envelope stops being accepted anyway (Infinity: never). */
  expiresAtMs: number;
  /** The verifier's clock; undefined when not trusted, then nothing is pruned by time. */
  nowMs?: number;
}

/**
 * True when `id` was accepted before (a replay); otherwise remembers it and returns false. The
 * verifiers call it last, after every other check passed, so forged envelopes cannot fill it.
 */
export type SeenCheck = (id: Uint8Array, times: ReplayTimes) => boolean;

export class ReplayCache {
  readonly capacity: number;
  readonly #entries = new Map<string, { issuedAtMs: number; expiresAtMs: number }>();
  #floorMs = -Infinity;

  constructor(capacity = 1024) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity is >= 1');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Envelopes issued at or before this are refused (raised when a live id had to be forgotten). */
  get floorMs(): number {
    return this.#floorMs;
  }

  /** The SeenCheck to hand to a verifier. */
  readonly seen: SeenCheck = (id, times) => {
    if (times.issuedAtMs <= this.#floorMs) return true;
    const key = toHex(id);
    if (this.#entries.has(key)) return true;
    this.#entries.set(key, { issuedAtMs: times.issuedAtMs, expiresAtMs: times.expiresAtMs });
    if (this.#entries.size > this.capacity) this.#shrink(times.nowMs);
    return false;
  };

  #shrink(nowMs: number | undefined): void {
    if (nowMs !== undefined) {
      for (const [key, entry] of this.#entries) {
        if (entry.expiresAtMs <= nowMs) this.#entries.delete(key);
      }
    }
    while (this.#entries.size > this.capacity) {
      let oldestKey: string | undefined;
      let oldestIssued = Infinity;
      for (const [key, entry] of this.#entries) {
        if (entry.issuedAtMs < oldestIssued) {
          oldestIssued = entry.issuedAtMs;
          oldestKey = key;
        }
      }
      if (oldestKey === undefined) break;
      this.#entries.delete(oldestKey);
      this.#floorMs = Math.max(this.#floorMs, oldestIssued);
    }
  }
}
