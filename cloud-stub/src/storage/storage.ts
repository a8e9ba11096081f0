/**
 * Opening the store: Kysely over SQLite (better-sqlite3: a file in WAL mode, or memory; the
 * embedded default) or PostgreSQL (a pg pool), chosen by configuration. Everything above this
 * file sees only `Kysely<Database>` and writes SQL both engines run.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type MigrationProvider,
} from 'kysely';
import pg from 'pg';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';

export type StorageEngine = 'sqlite' | 'postgres';

export type StorageConfig =
  | {
      engine: 'sqlite';
      /** A file path, or ':memory:' (gone when closed). */
      file: string;
    }
  | {
      engine: 'postgres';
      /** postgres://user@host:port/database */
      url: string;
      /** Schema to use instead of `public` (tests give each file its own). */
      schema?: string;
      /** Connections in the pool. */
      poolSize?: number;
    };

export interface Storage {
  readonly engine: StorageEngine;
  readonly db: Kysely<Database>;
  /** Where the data is, for logs (no password). */
  readonly location: string;
  /** The PostgreSQL schema the tables live in, when not the default one. */
  readonly schema?: string;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export function openStorage(config: StorageConfig): Storage {
  if (config.engine === 'sqlite') {
    if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true });
    const database = new BetterSqlite3(config.file);
    // WAL: readers do not block the writer, and a crash mid-write loses nothing committed.
    if (config.file !== ':memory:') database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
    return {
      engine: 'sqlite',
      db,
      location: config.file === ':memory:' ? 'sqlite :memory:' : `sqlite ${config.file}`,
      close: () => db.destroy(),
    };
  }
  if (config.schema !== undefined && !SCHEMA_NAME.test(config.schema)) {
    throw new Error(
      `PostgreSQL schema name ${JSON.stringify(config.schema)} is not a plain identifier`,
    );
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize ?? 10,
    ...(config.schema === undefined ? {} : { options: `-c search_path=${config.schema}` }),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    engine: 'postgres',
    db,
    ...(config.schema === undefined ? {} : { schema: config.schema }),
    location: `postgres ${withoutPassword(config.url)}${config.schema ? ` schema ${config.schema}` : ''}`,
    close: () => db.destroy(),
  };
}

function migrationProvider(engine: StorageEngine): MigrationProvider {
  return {
    getMigrations: async () =>
      Object.fromEntries(MIGRATIONS.map(([name, migration]) => [name, migration(engine)])),
  };
}

/** Brings the schema to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(storage: Storage): Promise<string[]> {
  const migrator = new Migrator({
    db: storage.db,
    provider: migrationProvider(storage.engine),
    // Kysely looks for its own tables in every schema unless told which: a store in its own
    // schema would find another schema's migration lock and never create its own.
    ...(storage.schema === undefined ? {} : { migrationTableSchema: storage.schema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error !== undefined || failed) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new Error(
      `migration ${failed?.migrationName ?? '(none)'} failed on ${storage.location}: ${cause}`,
      { cause: error },
    );
  }
  return (results ?? []).map((result) => result.migrationName);
}

/** Whether the store answers a trivial query. */
export async function storageAnswers(storage: Storage): Promise<boolean> {
  try {
    await sql`select 1`.execute(storage.db);
    return true;
  } catch {
    return false;
  }
}

/** A unique-constraint violation, on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}
