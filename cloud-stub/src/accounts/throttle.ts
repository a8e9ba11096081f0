/**
 * Slowing down password guessing: failures are counted per key (the e-mail tried, whether or not
 * it has an account, and the client address). The first `freeFailures` failures cost nothing;
 * each further one locks the key for an exponentially growing time (1 s, 2 s, 4 s, … at most
 * `maxDelayMs`). A success clears the e-mail's count (not the address's: one valid account must
 * not reset a guesser's budget). Counts are forgotten `forgetAfterMs` after the last failure.
 *
 * In memory, per cloud process: a restart forgets the counts (acceptable for the stub; a cloud
 * with several processes would keep them in the store).
 */
export interface ThrottleRule {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetAfterMs: number;
}

export const ACCOUNT_RULE: ThrottleRule = {
  freeFailures: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
};

export const ADDRESS_RULE: ThrottleRule = { ...ACCOUNT_RULE, freeFailures: 20 };

interface Entry {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

const MAX_ENTRIES = 100_000;

export class Throttle {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly rule: ThrottleRule) {}

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && now - entry.lastFailure > this.rule.forgetAfterMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  waitMs(key: string, now: number): number {
    const entry = this.live(key, now);
    return entry ? Math.max(0, entry.lockedUntil - now) : 0;
  }

  failed(key: string, now: number): void {
    const entry = this.live(key, now) ?? { failures: 0, lastFailure: now, lockedUntil: 0 };
    entry.failures++;
    entry.lastFailure = now;
    const over = entry.failures - this.rule.freeFailures;
    if (over > 0) {
      const delay = Math.min(this.rule.maxDelayMs, this.rule.baseDelayMs * 2 ** (over - 1));
      entry.lockedUntil = now + delay;
    }
    this.entries.set(key, entry);
    if (this.entries.size > MAX_ENTRIES) this.prune(now);
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  private prune(now: number): void {
    for (const key of [...this.entries.keys()]) this.live(key, now);
    // Still too many (a flood of distinct keys): drop the oldest.
    for (const key of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES / 2) break;
      this.entries.delete(key);
    }
  }
}
