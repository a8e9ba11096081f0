/**
 * Accounts and their sessions. An account is one person across every brand portal: e-mail
 * (stored lower case, unique), scrypt password hash, name, country, postal address (JSON text),
 * role, and the dealer of a mechanic or dealer admin. A session is an access token, stored only
 * as its SHA-256, with an expiry, a revocation time, and the phone's device public key for a
 * customer's session.
 */
import { sql, type Kysely } from 'kysely';
import type { EngineMigration } from './index.js';

export const accounts: EngineMigration = () => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('country', 'text', (c) => c.notNull())
      .addColumn('postal_address', 'text')
      .addColumn('role', 'text', (c) =>
        c.notNull().check(sql`role in ('customer', 'mechanic', 'dealer-admin', 'agent')`),
      )
      .addColumn('dealer_id', 'text', (c) => c.references('dealers.id').onDelete('cascade'))
      .addColumn('password_changed_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addCheckConstraint(
        'accounts_dealer_staff',
        sql`(role in ('mechanic', 'dealer-admin')) = (dealer_id is not null)`,
      )
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('device_public_key', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema.createIndex('sessions_account').on('sessions').column('account_id').execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('sessions').execute();
    await db.schema.dropTable('accounts').execute();
  },
});
