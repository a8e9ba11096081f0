/**
 * The module registry and what hangs off it:
 * - registration nonces (the cloud's fresh nonce a module signs at provisioning, single use);
 * - module registrations (one active per serial and per VIN; a decommissioned one is history);
 * - installation reports (idempotent by the workshop's report id; accepted or rejected);
 * - workshop grants (test keys and service authorizations issued to stations) and the owner
 *   notifications issuing one for an installed car leaves;
 * - the audit log (every issuance and every look-up);
 * - the module link's records: link status (presence, last contact), reports (events, telemetry,
 *   command results), fault codes, retained state to re-publish, and the cloud signing key set.
 *
 * Partial unique indexes ("one active registration per serial / per VIN") work on both engines.
 * Module-time and cloud-time milliseconds are bigint (PostgreSQL returns them as strings: read
 * them through Number()).
 */
import { sql, type Kysely } from 'kysely';
import type { StorageEngine } from '../storage.js';
import type { EngineMigration } from './index.js';

export const moduleRegistry: EngineMigration = (engine: StorageEngine) => ({
  async up(db: Kysely<unknown>) {
    const bytes = engine === 'postgres' ? 'bytea' : 'blob';

    await db.schema
      .createTable('registration_nonces')
      .addColumn('nonce', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('station_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .addColumn('used_for_serial', 'text')
      .execute();

    await db.schema
      .createTable('module_registrations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('vin', 'text', (c) => c.notNull())
      .addColumn('hardware_revision', 'text', (c) => c.notNull())
      .addColumn('firmware_version', 'text', (c) => c.notNull())
      .addColumn('identity_public_key', 'text', (c) => c.notNull())
      .addColumn('certificate', bytes, (c) => c.notNull())
      .addColumn('advertising_secret', bytes, (c) => c.notNull())
      .addColumn('mqtt_username', 'text', (c) => c.notNull())
      .addColumn('mqtt_password_hash', 'text', (c) => c.notNull())
      .addColumn('owner_generation', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'text', (c) =>
        c.notNull().check(sql`status in ('active', 'decommissioned')`),
      )
      .addColumn('dealer_id', 'text', (c) => c.notNull())
      .addColumn('mechanic_id', 'text', (c) => c.notNull())
      .addColumn('station_id', 'text', (c) => c.notNull())
      .addColumn('registered_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('ready_to_share_at', 'text')
      .addColumn('decommissioned_at', 'text')
      .addColumn('decommissioned_by', 'text')
      .addColumn('decommission_reason', 'text')
      .execute();
    await db.schema
      .createIndex('module_registrations_active_serial')
      .on('module_registrations')
      .column('serial')
      .unique()
      .where(sql.ref('status'), '=', 'active')
      .execute();
    await db.schema
      .createIndex('module_registrations_active_vin')
      .on('module_registrations')
      .column('vin')
      .unique()
      .where(sql.ref('status'), '=', 'active')
      .execute();
    await db.schema
      .createIndex('module_registrations_serial')
      .on('module_registrations')
      .columns(['serial', 'registered_at'])
      .execute();

    await db.schema
      .createTable('installation_reports')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('registration_id', 'text', (c) =>
        c.notNull().references('module_registrations.id').onDelete('cascade'),
      )
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('vin', 'text', (c) => c.notNull())
      .addColumn('verdict', 'text', (c) =>
        c.notNull().check(sql`verdict in ('accepted', 'rejected')`),
      )
      /** JSON: the rejection reasons (null when accepted). */
      .addColumn('rejection', 'text')
      /** JSON: the parsed report as the workshop sent it. */
      .addColumn('report', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('dealer_id', 'text', (c) => c.notNull())
      .addColumn('station_id', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('installation_reports_registration')
      .on('installation_reports')
      .columns(['registration_id', 'received_at'])
      .execute();

    await db.schema
      .createTable('workshop_grants')
      /** Hex of the token id (test key) or the authorization id (service authorization). */
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) =>
        c.notNull().check(sql`kind in ('test-key', 'service-authorization')`),
      )
      .addColumn('registration_id', 'text', (c) =>
        c.notNull().references('module_registrations.id').onDelete('cascade'),
      )
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('vin', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('dealer_id', 'text', (c) => c.notNull())
      .addColumn('station_id', 'text', (c) => c.notNull())
      /** Comma-joined permissions (test key) or operations (service authorization). */
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('issued_at', 'text', (c) => c.notNull())
      .addColumn('not_after', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('workshop_grants_account')
      .on('workshop_grants')
      .columns(['account_id', 'issued_at'])
      .execute();
    await db.schema
      .createIndex('workshop_grants_station')
      .on('workshop_grants')
      .columns(['station_id', 'issued_at'])
      .execute();

    await db.schema
      .createTable('owner_notifications')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('vin', 'text', (c) => c.notNull())
      .addColumn('serial', 'text', (c) => c.notNull())
      /** The owner's account once the owner side links cars to accounts; null until then. */
      .addColumn('account_id', 'text')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      /** JSON: who, where, until when. */
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('read_at', 'text')
      .execute();
    await db.schema
      .createIndex('owner_notifications_vin')
      .on('owner_notifications')
      .columns(['vin', 'created_at'])
      .execute();

    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('at', 'text', (c) => c.notNull())
      /** e.g. "module.register", "grant.test-key", "lookup.module" (audit/audit-log.ts). */
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('dealer_id', 'text')
      .addColumn('station_id', 'text')
      .addColumn('serial', 'text')
      .addColumn('vin', 'text')
      /** JSON: what else matters for this action. */
      .addColumn('details', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
    await db.schema
      .createIndex('audit_log_account')
      .on('audit_log')
      .columns(['account_id', 'at'])
      .execute();
    await db.schema
      .createIndex('audit_log_serial')
      .on('audit_log')
      .columns(['serial', 'at'])
      .execute();
    await db.schema.createIndex('audit_log_vin').on('audit_log').columns(['vin', 'at']).execute();

    // The module link's records (module-link/ stores them through its interfaces).
    await db.schema
      .createTable('module_link_status')
      .addColumn('serial', 'text', (c) => c.primaryKey())
      .addColumn('presence', 'text', (c) =>
        c.check(sql`presence in ('online', 'offline', 'connection-lost')`),
      )
      .addColumn('connection_id', bytes)
      .addColumn('firmware_version', 'text')
      .addColumn('presence_changed_at_ms', 'bigint')
      .addColumn('last_contact_ms', 'bigint')
      .execute();

    await db.schema
      .createTable('module_reports')
      /** Hex of the envelope id: unique per report, so a redelivered one is stored once. */
      .addColumn('envelope_id', 'text', (c) => c.primaryKey())
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) =>
        c.notNull().check(sql`kind in ('telemetry', 'event', 'command-result')`),
      )
      /** The body's case, e.g. "keyUsed", "faultCodeStored". */
      .addColumn('body_case', 'text', (c) => c.notNull())
      /** The protobuf body as the module sent it. */
      .addColumn('body', bytes, (c) => c.notNull())
      .addColumn('sent_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('received_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('position_dropped', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createIndex('module_reports_serial')
      .on('module_reports')
      .columns(['serial', 'received_at_ms'])
      .execute();

    await db.schema
      .createTable('module_fault_codes')
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('code', 'text', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull())
      .addColumn('occurrences', 'integer', (c) => c.notNull())
      .addColumn('first_reported_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_reported_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('module_fault_codes_pk', ['serial', 'code'])
      .execute();

    await db.schema
      .createTable('module_retained_state')
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) =>
        c.notNull().check(sql`kind in ('revocation-list', 'booking')`),
      )
      /** The state body (protobuf CloudBody case value), re-signed at each publication. */
      .addColumn('body', bytes, (c) => c.notNull())
      .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('module_retained_state_pk', ['serial', 'kind'])
      .execute();

    await db.schema
      .createTable('cloud_signing_keys')
      /** Always 1: the set is loaded and saved as a whole (keys/key-store.ts). */
      .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
      /** JSON of the set: seeds and certificates, hex. */
      .addColumn('key_set', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>) {
    for (const table of [
      'cloud_signing_keys',
      'module_retained_state',
      'module_fault_codes',
      'module_reports',
      'module_link_status',
      'audit_log',
      'owner_notifications',
      'workshop_grants',
      'installation_reports',
      'module_registrations',
      'registration_nonces',
    ]) {
      await db.schema.dropTable(table).execute();
    }
  },
});
