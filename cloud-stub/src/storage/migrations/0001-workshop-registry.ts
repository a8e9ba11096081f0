/**
 * Dealers and their mechanics, the vehicle-order registry and the firmware catalog. Written once
 * with Kysely's schema builder for both engines; only the image bytes' column type differs
 * (SQLite blob, PostgreSQL bytea), and the security counter is a bigint (a u32 overflows
 * PostgreSQL's integer).
 */
import { sql, type Kysely } from 'kysely';
import type { StorageEngine } from '../storage.js';
import type { EngineMigration } from './index.js';

export const workshopRegistry: EngineMigration = (engine: StorageEngine) => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('dealers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('market', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('mechanics')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('dealer_id', 'text', (c) =>
        c.notNull().references('dealers.id').onDelete('cascade'),
      )
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('role', 'text', (c) =>
        c.notNull().check(sql`role in ('mechanic', 'dealer-admin')`),
      )
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('mechanics_dealer').on('mechanics').column('dealer_id').execute();

    await db.schema
      .createTable('vehicle_orders')
      .addColumn('vin', 'text', (c) => c.primaryKey())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('market', 'text', (c) => c.notNull())
      .addColumn('production_date', 'text', (c) => c.notNull())
      .addColumn('option_codes', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('firmware_images')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('version_major', 'integer', (c) => c.notNull())
      .addColumn('version_minor', 'integer', (c) => c.notNull())
      .addColumn('version_patch', 'integer', (c) => c.notNull())
      .addColumn('security_counter', 'bigint', (c) => c.notNull())
      .addColumn('size_bytes', 'integer', (c) => c.notNull())
      .addColumn('signing_key_id', 'text', (c) => c.notNull())
      .addColumn('release_notes', 'text', (c) => c.notNull())
      .addColumn('image', engine === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
      .addColumn('published_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('firmware_image_revisions')
      .addColumn('image_id', 'text', (c) =>
        c.notNull().references('firmware_images.id').onDelete('cascade'),
      )
      .addColumn('hardware_revision', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('firmware_image_revisions_pk', ['image_id', 'hardware_revision'])
      .addUniqueConstraint('firmware_image_revisions_one_per_version', [
        'hardware_revision',
        'version',
      ])
      .execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('firmware_image_revisions').execute();
    await db.schema.dropTable('firmware_images').execute();
    await db.schema.dropTable('vehicle_orders').execute();
    await db.schema.dropTable('mechanics').execute();
    await db.schema.dropTable('dealers').execute();
  },
});
