/** Workshop stations in the store: registered pending, approved by a dealer admin. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Station } from '@mini-sharing/shared-protocol/api';
import type { Database, StationRow } from '../storage/schema.js';

export const stationView = (row: StationRow): Station => ({
  id: row.id,
  dealerId: row.dealer_id,
  name: row.name,
  publicKey: row.public_key,
  status: row.status,
  requestedAt: row.requested_at,
  approvedAt: row.approved_at,
});

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
    .execute();
  const row = await findStation(db, id);
  return row?.dealer_id === dealerId ? row : undefined;
}
