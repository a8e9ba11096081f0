/**
 * How many workshop grants (test keys and service authorizations together) a mechanic and a
 * station may get in a trailing window, counted from `workshop_grants` in the store, so the
 * limits hold across restarts and across cloud instances sharing one database.
 *
 * The figures: fitting a module takes one service authorization (flash, provision, self-tests)
 * and a test key or two; servicing a car, one or two authorizations. A mechanic busy all hour,
 * with retries after a dropped cable or an expired authorization, stays well under 30; a stolen
 * session (at the station it was signed in at) gets at most 30 grants an hour before it is
 * noticed in the audit log. Several mechanics share a bay PC, so a station gets twice that.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../storage/schema.js';
import type { StorageEngine } from '../storage/storage.js';

/** Grants per mechanic (account) in the window. */
export const GRANTS_PER_ACCOUNT_PER_WINDOW = 30;
/** Grants per workshop station in the window. */
export const GRANTS_PER_STATION_PER_WINDOW = 60;
/** The trailing window the limits count in. */
export const GRANT_RATE_WINDOW_MS = 60 * 60 * 1000;

export interface GrantRateLimits {
  perAccount: number;
  perStation: number;
  windowMs: number;
}

export const GRANT_RATE_LIMITS: GrantRateLimits = {
  perAccount: GRANTS_PER_ACCOUNT_PER_WINDOW,
  perStation: GRANTS_PER_STATION_PER_WINDOW,
  windowMs: GRANT_RATE_WINDOW_MS,
};

export interface RateLimitHit {
  /** Which limit: the mechanic's or the station's. */
  limitedBy: 'account' | 'station';
  limit: number;
  windowMs: number;
  /** When the next grant is allowed again. */
  retryAt: Date;
}

/**
 * When one more grant is allowed, given the issue times (ISO) of the `limit` newest grants in the
 * window: at once while fewer than `limit` are in the window, otherwise when the oldest of those
 * leaves it (then fewer than `limit` remain, however many more an earlier burst left).
 */
export function nextAllowedAt(
  newestIssuedAt: readonly string[],
  limit: number,
  windowMs: number,
  now: Date,
): Date | undefined {
  if (newestIssuedAt.length < limit) return undefined;
  const oldest = newestIssuedAt.reduce((a, b) => (a < b ? a : b));
  const at = new Date(Date.parse(oldest) + windowMs);
  return at > now ? at : undefined;
}

/**
 * Checks both limits inside the issuing transaction. On PostgreSQL it first locks the account's
 * and the station's rows (FOR NO KEY UPDATE, always in that order, so no deadlock): concurrent
 * grants for the same account or station wait for each other, so a burst cannot read the same
 * count and overshoot the limit; the count is exact across cloud instances. SQLite runs one
 * transaction at a time, so it is exact there without locks. Undefined when a grant is allowed.
 */
export async function checkGrantRateLimits(
  trx: Transaction<Database>,
  engine: StorageEngine,
  who: { accountId: string; stationId: string },
  now: Date,
  limits: GrantRateLimits = GRANT_RATE_LIMITS,
): Promise<RateLimitHit | undefined> {
  if (engine === 'postgres') {
    await trx
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', who.accountId)
      .forNoKeyUpdate()
      .execute();
    await trx
      .selectFrom('stations')
      .select('id')
      .where('id', '=', who.stationId)
      .forNoKeyUpdate()
      .execute();
  }
  const since = new Date(now.getTime() - limits.windowMs).toISOString();
  const newest = async (column: 'account_id' | 'station_id', value: string, limit: number) =>
    (
      await trx
        .selectFrom('workshop_grants')
        .select('issued_at')
        .where(column, '=', value)
        .where('issued_at', '>', since)
        .orderBy('issued_at', 'desc')
        .limit(limit)
        .execute()
    ).map((row) => row.issued_at);

  const hits: RateLimitHit[] = [];
  const byAccount = nextAllowedAt(
    await newest('account_id', who.accountId, limits.perAccount),
    limits.perAccount,
    limits.windowMs,
    now,
  );
  if (byAccount) {
    hits.push({
      limitedBy: 'account',
      limit: limits.perAccount,
      windowMs: limits.windowMs,
      retryAt: byAccount,
    });
  }
  const byStation = nextAllowedAt(
    await newest('station_id', who.stationId, limits.perStation),
    limits.perStation,
    limits.windowMs,
    now,
  );
  if (byStation) {
    hits.push({
      limitedBy: 'station',
      limit: limits.perStation,
      windowMs: limits.windowMs,
      retryAt: byStation,
    });
  }
  // Both hit: the later one is when a grant is possible again.
  return hits.sort((a, b) => b.retryAt.getTime() - a.retryAt.getTime())[0];
}
