/**
 * The signing key set in the cloud's database (table cloud_signing_keys, one row): what the app
 * uses, so every instance of the cloud on one PostgreSQL signs with the same keys and a rotation
 * survives a restart. Saved as one upsert: a crash leaves the old set or the new one.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import {
  keySetDocument,
  parseKeySetDocument,
  type KeyStore,
  type SigningKeySet,
} from './key-store.js';

export class DatabaseKeyStore implements KeyStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async load(): Promise<SigningKeySet | undefined> {
    const row = await this.db
      .selectFrom('cloud_signing_keys')
      .select('key_set')
      .where('id', '=', 1)
      .executeTakeFirst();
    return row && parseKeySetDocument(row.key_set, 'the cloud_signing_keys table');
  }

  async save(set: SigningKeySet): Promise<void> {
    const keySet = keySetDocument(set);
    const updatedAt = this.now().toISOString();
    await this.db
      .insertInto('cloud_signing_keys')
      .values({ id: 1, key_set: keySet, updated_at: updatedAt })
      .onConflict((c) => c.column('id').doUpdateSet({ key_set: keySet, updated_at: updatedAt }))
      .execute();
  }
}
