/**
 * Test harness: runs the same storage tests on both engines. SQLite runs in memory; PostgreSQL
 * (127.0.0.1:5432, database `test`, or CLOUD_STUB_TEST_POSTGRES_URL) gets a fresh schema per
 * describe block, dropped afterwards, so test files run in parallel without seeing each other.
 *
 * PostgreSQL being down FAILS the tests with a message saying how to start it: a skipped engine
 * would let an engine-specific bug through unnoticed (CI starts PostgreSQL, see .ci/run).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { migrateToLatest, openStorage, type Storage, type StorageEngine } from '../storage.js';
import { TEST_POSTGRES_URL, createScratchSchema } from './scratch-schema.js';

export { TEST_POSTGRES_URL, connectAdmin } from './scratch-schema.js';

export const ENGINES: readonly StorageEngine[] = ['sqlite', 'postgres'];

export interface TestStorage extends Storage {
  /** Empties every table (not the migrations'), keeping the schema. */
  reset(): Promise<void>;
  /** Closes the store and drops its PostgreSQL schema. */
  dispose(): Promise<void>;
}

async function appTables(storage: Storage): Promise<string[]> {
  if (storage.engine === 'sqlite') {
    const { rows } = await sql<{ name: string }>`
      select name from sqlite_master
      where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%'`.execute(
      storage.db,
    );
    return rows.map((row) => row.name);
  }
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'
      and table_name not like 'kysely_%'`.execute(storage.db);
  return rows.map((row) => row.name);
}

async function emptyTables(storage: Storage): Promise<void> {
  const tables = await appTables(storage);
  if (tables.length === 0) return;
  if (storage.engine === 'postgres') {
    await sql`truncate ${sql.join(tables.map((t) => sql.table(t)))} cascade`.execute(storage.db);
    return;
  }
  // One connection in SQLite: switch foreign keys off around the deletes, in any order.
  await sql`pragma foreign_keys = off`.execute(storage.db);
  try {
    for (const table of tables) await sql`delete from ${sql.table(table)}`.execute(storage.db);
  } finally {
    await sql`pragma foreign_keys = on`.execute(storage.db);
  }
}

/** A migrated, empty store on `engine`. */
export async function openTestStorage(
  engine: StorageEngine,
  options: { poolSize?: number } = {},
): Promise<TestStorage> {
  if (engine === 'sqlite') {
    const storage = openStorage({ engine: 'sqlite', file: ':memory:' });
    await migrateToLatest(storage);
    return { ...storage, reset: () => emptyTables(storage), dispose: () => storage.close() };
  }
  const { schema, drop } = await createScratchSchema(TEST_POSTGRES_URL);
  const storage = openStorage({
    engine: 'postgres',
    url: TEST_POSTGRES_URL,
    schema,
    ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
  });
  try {
    await migrateToLatest(storage);
  } catch (error) {
    await storage.close();
    await drop();
    throw error;
  }
  return {
    ...storage,
    reset: () => emptyTables(storage),
    dispose: async () => {
      await storage.close();
      await drop();
    },
  };
}

/**
 * `describe(name)` once per engine, with a migrated store emptied before each test. `body` gets a
 * getter (the store opens in beforeAll, after the tests are collected).
 */
export function describeEngines(name: string, body: (storage: () => TestStorage) => void): void {
  for (const engine of ENGINES) {
    describe(`${name} [${engine}]`, () => {
      let storage: TestStorage | undefined;
      beforeAll(async () => {
        storage = await openTestStorage(engine);
      }, 30_000);
      afterAll(async () => {
        await storage?.dispose();
      });
      beforeEach(async () => {
        await storage?.reset();
      });
      body(() => {
        if (!storage) throw new Error(`the ${engine} test store did not open (see beforeAll)`);
        return storage;
      });
    });
  }
}
