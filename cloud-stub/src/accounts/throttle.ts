/**
 * Slowing down password guessing: failures are counted per key (the e-mail tried, whether or not
 * it has an account, and the client address). The first `freeFailures` failures cost nothing;
 * each further one locks the key for an exponentially growing time (1 s, 2 s, 4 s, … at most
 * `maxDelayMs`). A success clears the e-mail's count (not the address's: one valid account must
 * not reset a guesser's budget). Counts are forgotten `forgetAfterMs` after the last failure.
 *
 * The counts live in the store (table throttle_entries), so every cloud process on one database
 * shares them and a restart forgets nothing: a guesser gains nothing by spreading attempts over
 * processes. A failure is one atomic upsert (the count can never be lost to a concurrent one);
 * the lock only ever grows.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

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

/** Rows of forgotten keys are deleted once every this many failures (per process). */
const SWEEP_EVERY = 500;

export class Throttle {
  #failuresSinceSweep = 0;

  /** `scope` keeps the rules' keys apart in the one table ("account", "address"). */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly scope: string,
    private readonly rule: ThrottleRule,
  ) {}

  private key(key: string): string {
    return `${this.scope}:${key}`;
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  async waitMs(key: string, now: number): Promise<number> {
    const row = await this.db
      .selectFrom('throttle_entries')
      .select(['last_failure_ms', 'locked_until_ms'])
      .where('key', '=', this.key(key))
      .executeTakeFirst();
    if (!row || now - Number(row.last_failure_ms) > this.rule.forgetAfterMs) return 0;
    return Math.max(0, Number(row.locked_until_ms) - now);
  }

  async failed(key: string, now: number): Promise<void> {
    const forgetBefore = now - this.rule.forgetAfterMs;
    const stale = sql<boolean>`throttle_entries.last_failure_ms < ${forgetBefore}`;
    const { failures } = await this.db
      .insertInto('throttle_entries')
      .values({ key: this.key(key), failures: 1, last_failure_ms: now, locked_until_ms: 0 })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({
          failures: sql<number>`case when ${stale} then 1 else throttle_entries.failures + 1 end`,
          last_failure_ms: now,
          locked_until_ms: sql<number>`case when ${stale} then 0 else throttle_entries.locked_until_ms end`,
        }),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    const over = Number(failures) - this.rule.freeFailures;
    if (over > 0) {
      const delay = Math.min(this.rule.maxDelayMs, this.rule.baseDelayMs * 2 ** (over - 1));
      await this.db
        .updateTable('throttle_entries')
        .set({ locked_until_ms: now + delay })
        .where('key', '=', this.key(key))
        .where('locked_until_ms', '<', now + delay)
        .execute();
    }
    if (++this.#failuresSinceSweep >= SWEEP_EVERY) {
      this.#failuresSinceSweep = 0;
      await this.db
        .deleteFrom('throttle_entries')
        .where('key', 'like', `${this.scope}:%`)
        .where('last_failure_ms', '<', forgetBefore)
        .execute();
    }
  }

  async succeeded(key: string): Promise<void> {
    await this.db.deleteFrom('throttle_entries').where('key', '=', this.key(key)).execute();
  }
}
