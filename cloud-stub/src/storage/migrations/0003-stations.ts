/**
 * Workshop stations: a station's Ed25519 public key, registered to a dealer (pending until a
 * dealer admin approves it), and the station a session was signed in at.
 */
import { sql, type Kysely } from 'kysely';
import type { EngineMigration } from './index.js';

export const stations: EngineMigration = () => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('stations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('dealer_id', 'text', (c) =>
        c.notNull().references('dealers.id').onDelete('cascade'),
      )
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull().unique())
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'approved')`))
      .addColumn('requested_at', 'text', (c) => c.notNull())
      .addColumn('approved_at', 'text')
      .addColumn('approved_by', 'text')
      .execute();
    await db.schema.createIndex('stations_dealer').on('stations').column('dealer_id').execute();
    // No foreign key: SQLite cannot add one to an existing table; sessions outlive nothing here.
    await db.schema.alterTable('sessions').addColumn('station_id', 'text').execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('sessions').dropColumn('station_id').execute();
    await db.schema.dropTable('stations').execute();
  },
});
