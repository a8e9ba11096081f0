/**
 * A throw-away PostgreSQL schema for tests and benchmarks: created fresh, dropped afterwards, so
 * runs never see each other's data nor leave any behind. No test framework here (the benchmark
 * uses it too).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_POSTGRES_URL =
  process.env.CLOUD_STUB_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A connection, or an Error saying PostgreSQL is down and how to start it. */
export async function connectAdmin(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new Error(
      `PostgreSQL is not reachable at ${url} (${error instanceof Error ? error.message : String(error)}). ` +
        `Every cloud-stub storage test runs on SQLite AND PostgreSQL, so this is a failure, not a ` +
        `skip. Start PostgreSQL (as CI's .ci/run does: ` +
        `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or point ` +
        `CLOUD_STUB_TEST_POSTGRES_URL at one.`,
      { cause: error },
    );
  }
}

export interface ScratchSchema {
  schema: string;
  /** Drops the schema with everything in it, and disconnects. */
  drop(): Promise<void>;
}

export async function createScratchSchema(
  url: string,
  prefix = 'cloud_test',
): Promise<ScratchSchema> {
  const admin = await connectAdmin(url);
  const schema = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`create schema ${schema}`);
  return {
    schema,
    drop: async () => {
      try {
        await admin.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await admin.end();
      }
    },
  };
}
