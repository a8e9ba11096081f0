/**
 * Guards every cloud process must share (several processes on one PostgreSQL): the sign-in
 * throttle's failure counts, and the nonces of station-signed requests (a replay to another
 * process must fail as it does to the first). And a station's revocation (a stolen workshop
 * laptop): when and by which dealer admin.
 */
import type { Kysely } from 'kysely';
import type { EngineMigration } from './index.js';

export const sharedGuards: EngineMigration = () => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('throttle_entries')
      /** "<scope>:<key>", e.g. "account:email:kim@example.com", "address:ip:10.0.0.1". */
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('failures', 'integer', (c) => c.notNull())
      .addColumn('last_failure_ms', 'bigint', (c) => c.notNull())
      .addColumn('locked_until_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('throttle_entries_last_failure')
      .on('throttle_entries')
      .column('last_failure_ms')
      .execute();

    await db.schema
      .createTable('station_request_nonces')
      .addColumn('station_id', 'text', (c) => c.notNull())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('station_request_nonces_pk', ['station_id', 'nonce'])
      .execute();
    await db.schema
      .createIndex('station_request_nonces_expiry')
      .on('station_request_nonces')
      .column('expires_at_ms')
      .execute();

    await db.schema.alterTable('stations').addColumn('revoked_at', 'text').execute();
    await db.schema.alterTable('stations').addColumn('revoked_by', 'text').execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('stations').dropColumn('revoked_by').execute();
    await db.schema.alterTable('stations').dropColumn('revoked_at').execute();
    await db.schema.dropTable('station_request_nonces').execute();
    await db.schema.dropTable('throttle_entries').execute();
  },
});
