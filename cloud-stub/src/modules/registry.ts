/**
 * The module registry's queries: registrations by serial and by VIN, their API view, and
 * decommissioning. One registration per serial and per VIN is active at a time (partial unique
 * indexes); a decommissioned one stays as history.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ModuleRegistration } from '@mini-sharing/shared-protocol/api';
import { audit } from '../audit/audit-log.js';
import type { Principal } from '../http/auth.js';
import type { Database, ModuleRegistrationRow } from '../storage/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export const moduleRegistrationView = (row: ModuleRegistrationRow): ModuleRegistration => ({
  id: row.id,
  moduleSerial: row.serial,
  vin: row.vin,
  hardwareRevision: row.hardware_revision,
  firmwareVersion: row.firmware_version,
  identityPublicKey: row.identity_public_key,
  status: row.status,
  dealerId: row.dealer_id,
  mechanicId: row.mechanic_id,
  stationId: row.station_id,
  registeredAt: row.registered_at,
  readyToShareAt: row.ready_to_share_at,
  decommissionedAt: row.decommissioned_at,
});

/** The active registration of a module serial (canonical form), if any. */
export const activeRegistrationOfSerial = (db: Db, serial: string) =>
  db
    .selectFrom('module_registrations')
    .selectAll()
    .where('serial', '=', serial)
    .where('status', '=', 'active')
    .executeTakeFirst();

/** The active registration of a car (normalised VIN), if any. */
export const activeRegistrationOfVin = (db: Db, vin: string) =>
  db
    .selectFrom('module_registrations')
    .selectAll()
    .where('vin', '=', vin)
    .where('status', '=', 'active')
    .executeTakeFirst();

/**
 * The registration that speaks for a serial or a car: the active one, else the latest
 * (decommissioned, kept as history). Look-ups show it, grants and the module link's directory
 * judge by it.
 */
export function shownRegistration(
  db: Db,
  by: { serial: string } | { vin: string },
): Promise<ModuleRegistrationRow | undefined> {
  let query = db.selectFrom('module_registrations').selectAll();
  query = 'serial' in by ? query.where('serial', '=', by.serial) : query.where('vin', '=', by.vin);
  return query
    .orderBy(sql`case when status = 'active' then 0 else 1 end`)
    .orderBy('registered_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** The route a dealer admin calls to end a registration (named in conflict messages). */
export const decommissionRoute = (serial: string): string =>
  `POST /v1/modules/${serial}/decommission`;

/**
 * Ends the active registration of `serial` (a dealer admin: any dealer may service any car),
 * with the audit row in the same transaction. Undefined when the serial has no active one.
 */
export async function decommissionRegistration(
  db: Kysely<Database>,
  principal: Principal,
  serial: string,
  reason: string,
  now: Date,
): Promise<ModuleRegistrationRow | undefined> {
  const at = now.toISOString();
  return db.transaction().execute(async (trx) => {
    // Conditional on 'active': of two concurrent decommissions, one changes the row.
    const row = await trx
      .updateTable('module_registrations')
      .set({
        status: 'decommissioned',
        decommissioned_at: at,
        decommissioned_by: principal.accountId,
        decommission_reason: reason,
        updated_at: at,
      })
      .where('serial', '=', serial)
      .where('status', '=', 'active')
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await audit(
      trx,
      {
        action: 'module.decommission',
        principal,
        serial: row.serial,
        vin: row.vin,
        details: { registrationId: row.id, reason, registeredBy: row.dealer_id },
      },
      now,
    );
    return row;
  });
}
