/**
 * Workshop stations in the store: registered pending, approved by a dealer admin, revoked by one
 * (for good: a revoked station registers again with a new key).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Station } from '@mini-sharing/shared-protocol/api';
import { audit } from '../audit/audit-log.js';
import type { Principal } from '../http/auth.js';
import type { Database, StationRow } from '../storage/schema.js';

export const stationView = (row: StationRow): Station => ({
  id: row.id,
  dealerId: row.dealer_id,
  name: row.name,
  publicKey: row.public_key,
  status: row.revoked_at === null ? row.status : 'revoked',
  requestedAt: row.requested_at,
  approvedAt: row.approved_at,
  revokedAt: row.revoked_at,
});

/** Whether the station may be signed in at and sign requests: approved and not revoked. */
export const isActiveStation = (row: StationRow | undefined): row is StationRow =>
  row !== undefined && row.status === 'approved' && row.revoked_at === null;

export async function addStation(
  db: Kysely<Database>,
  station: { dealerId: string; name: string; publicKey: string },
  now: Date,
): Promise<StationRow> {
  const row: StationRow = {
    id: `STN-${randomUUID()}`,
    dealer_id: station.dealerId,
    name: station.name,
    public_key: station.publicKey,
    status: 'pending',
    requested_at: now.toISOString(),
    approved_at: null,
    approved_by: null,
    revoked_at: null,
    revoked_by: null,
  };
  await db.insertInto('stations').values(row).execute();
  return row;
}

export const findStation = (db: Kysely<Database>, id: string) =>
  db.selectFrom('stations').selectAll().where('id', '=', id).executeTakeFirst();

export const listDealerStations = (db: Kysely<Database>, dealerId: string) =>
  db
    .selectFrom('stations')
    .selectAll()
    .where('dealer_id', '=', dealerId)
    .orderBy('requested_at')
    .orderBy('id')
    .execute();

/** Approves a station of `dealerId`; undefined when the dealer has no such station. */
export async function approveDealerStation(
  db: Kysely<Database>,
  dealerId: string,
  id: string,
  adminAccountId: string,
  now: Date,
): Promise<StationRow | undefined> {
  await db
    .updateTable('stations')
    .set({ status: 'approved', approved_at: now.toISOString(), approved_by: adminAccountId })
    .where('id', '=', id)
    .where('dealer_id', '=', dealerId)
    .where('status', '=', 'pending')
    .where('revoked_at', 'is', null)
    .execute();
  const row = await findStation(db, id);
  return row?.dealer_id === dealerId ? row : undefined;
}

/**
 * Revokes a station of `dealerId` (pending or approved) and ends every session signed in there,
 * in one transaction, with its audit row; undefined when the dealer has no such station. A second
 * revocation changes nothing.
 */
export async function revokeDealerStation(
  db: Kysely<Database>,
  dealerId: string,
  id: string,
  principal: Principal,
  now: Date,
): Promise<StationRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const at = now.toISOString();
    const revoked = await trx
      .updateTable('stations')
      .set({ revoked_at: at, revoked_by: principal.accountId })
      .where('id', '=', id)
      .where('dealer_id', '=', dealerId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(revoked.numUpdatedRows) > 0) {
      const sessions = await trx
        .updateTable('sessions')
        .set({ revoked_at: at })
        .where('station_id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      await audit(
        trx,
        {
          action: 'station.revoke',
          principal,
          details: { stationId: id, sessionsEnded: Number(sessions.numUpdatedRows) },
        },
        now,
      );
    }
    const row = await trx
      .selectFrom('stations')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.dealer_id === dealerId ? row : undefined;
  });
}
