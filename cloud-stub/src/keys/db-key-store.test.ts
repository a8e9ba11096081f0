/**
 * The signing key set in the database (cloud_signing_keys) on both engines: an empty store gets
 * a new set, a reopen gives the same keys, a rotation survives a restart, and a row that is not a
 * key set stops the start with a clear error.
 */
import { beforeAll, expect, it } from 'vitest';
import { seedSigner, toHex, type Signer } from '@mini-sharing/shared-protocol/crypto';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { describeEngines } from '../storage/testing/engines.js';
import { CloudKeys } from './cloud-keys.js';
import { DatabaseKeyStore } from './db-key-store.js';
import { DEVELOPMENT_KEYS_DIR, loadCloudKeyFiles } from './key-files.js';

const START = new Date('2026-03-01T00:00:00.000Z');
let root: Signer;
let developmentSigningSeed: Uint8Array;

beforeAll(async () => {
  const files = await loadCloudKeyFiles(DEVELOPMENT_KEYS_DIR);
  root = files.root.signer;
  developmentSigningSeed = files.signing.seed;
});

const ids = (keys: CloudKeys) => ({
  current: keys.current.keyIdHex,
  next: keys.next.keyIdHex,
  previous: keys.previous.map((key) => key.keyIdHex),
});

describeEngines('the signing keys in the database', (storage) => {
  const open = (at = START) =>
    CloudKeys.open({
      root,
      store: new DatabaseKeyStore(storage().db, () => at),
      now: () => at.getTime(),
      initialSigningSeed: developmentSigningSeed,
    });

  it('an empty store opens a new set (the initial signing key current, a new next) and saves it', async () => {
    const keys = await open();
    expect(keys.current.keyIdHex).toBe(toHex(seedSigner(developmentSigningSeed).keyId));
    expect(keys.next.keyIdHex).not.toBe(keys.current.keyIdHex);
    const rows = await storage().db.selectFrom('cloud_signing_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.updated_at).toBe(START.toISOString());
    expect(rows[0]?.key_set).toContain(toHex(keys.next.certificate));
  });

  it('a reopen gives the same keys', async () => {
    const first = await open();
    const again = await open(new Date(START.getTime() + 60_000));
    expect(ids(again)).toEqual(ids(first));
    expect(again.current.notAfterMs).toBe(first.current.notAfterMs);
    expect(toHex(again.signer.publicKey)).toBe(toHex(first.signer.publicKey));
  });

  it('a rotation persists across a reopen', async () => {
    const keys = await open();
    const before = ids(keys);
    const later = new Date(START.getTime() + 86_400_000);
    const rotating = await CloudKeys.open({
      root,
      store: new DatabaseKeyStore(storage().db, () => later),
      now: () => later.getTime(),
    });
    const rotation = await rotating.rotate();
    expect(rotation.current.keyIdHex).toBe(before.next);

    const reopened = await open(new Date(later.getTime() + 1));
    expect(ids(reopened)).toEqual({
      current: before.next,
      next: rotation.next.keyIdHex,
      previous: [before.current],
    });
    const row = await storage()
      .db.selectFrom('cloud_signing_keys')
      .select('updated_at')
      .executeTakeFirstOrThrow();
    expect(row.updated_at).toBe(later.toISOString());
  });

  it('refuses to start on a row that is not a key set, or keys another root certified', async () => {
    await storage()
      .db.insertInto('cloud_signing_keys')
      .values({ id: 1, key_set: '{"version": 1, "previous": [], "cur', updated_at: 'x' })
      .execute();
    await expect(open()).rejects.toThrow(
      /the cloud_signing_keys table is not JSON: the cloud's signing keys cannot be read/,
    );
    await storage()
      .db.updateTable('cloud_signing_keys')
      .set({ key_set: JSON.stringify({ version: 1, previous: [], current: { seed: 'ab' } }) })
      .execute();
    await expect(open()).rejects.toThrow(
      /the cloud_signing_keys table: current is not a signing key/,
    );

    await storage().db.deleteFrom('cloud_signing_keys').execute();
    await CloudKeys.open({
      root: seedSigner(testSeed('another root')),
      store: new DatabaseKeyStore(storage().db, () => START),
      now: () => START.getTime(),
    });
    await expect(open()).rejects.toThrow(/not usable.*Is the root key the one that certified/);
  });
});
