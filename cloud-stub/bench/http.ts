/**
 * HTTP benchmarks on loopback: eligibility by VIN, the workshop's most frequent call, against the
 * real app on each engine (SQLite file in WAL mode; PostgreSQL in a scratch schema on
 * 127.0.0.1:5432). autocannon drives it from a worker thread so client and server do not share
 * an event loop. Prints `name value` lines, headline last:
 *
 *   eligibility-rps-postgres, eligibility-p99-ms-postgres,
 *   eligibility-p99-ms-sqlite, eligibility-rps-sqlite
 *
 * CLOUD_STUB_BENCH_SECONDS sets the measured time per engine (default 10; a 2 s warm-up first).
 * PostgreSQL down fails the run, as it fails the tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { buildApp } from '../src/app.js';
import { resolveConfig } from '../src/config.js';
import { signTestToken, TEST_PRINCIPAL_HEADER } from '../src/http/test-tokens.js';
import { migrateToLatest, openStorage, type StorageConfig } from '../src/storage/storage.js';
import { createScratchSchema, TEST_POSTGRES_URL } from '../src/storage/testing/scratch-schema.js';
import { saveVehicleOrder } from '../src/vehicles/orders.js';
import { vehicleOrderOf } from '../src/vehicles/order-input.js';

const SECONDS = Number(process.env.CLOUD_STUB_BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const SECRET = 'cloud-stub benchmark secret';

interface Figures {
  rps: number;
  p99Ms: number;
}

async function measure(storageConfig: StorageConfig): Promise<Figures> {
  const storage = openStorage(storageConfig);
  try {
    await migrateToLatest(storage);
    const vins: string[] = [];
    for (const vehicle of exampleFleet().vehicles) {
      await saveVehicleOrder(storage.db, vehicleOrderOf(vehicle), new Date());
      vins.push(vehicle.vin);
    }
    const config = resolveConfig(
      {
        storage: storageConfig,
        log: { level: 'silent' },
        auth: { testTokenSecret: SECRET },
        http: { port: 0 },
      },
      {},
    );
    const { app } = await buildApp(config, { storage, logger: false });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const token = signTestToken(SECRET, {
        role: 'mechanic',
        accountId: 'bench',
        dealerId: 'DLR-BENCH',
      });
      const options = {
        url,
        connections: CONNECTIONS,
        headers: { [TEST_PRINCIPAL_HEADER]: token },
        requests: vins.map((vin) => ({
          method: 'GET' as const,
          path: `/v1/vehicles/${vin}/eligibility`,
        })),
        workers: 1,
      };
      await autocannon({ ...options, duration: 2 });
      const result = await autocannon({ ...options, duration: SECONDS });
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
        throw new Error(
          `eligibility benchmark on ${storage.location}: ${result.non2xx} non-2xx, ${result.errors} errors, ` +
            `${result.timeouts} timeouts of ${result.requests.total} requests`,
        );
      }
      return { rps: Math.round(result.requests.average), p99Ms: result.latency.p99 };
    } finally {
      await app.close();
    }
  } finally {
    await storage.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cloud-stub-bench-'));
try {
  const scratch = await createScratchSchema(TEST_POSTGRES_URL, 'cloud_bench');
  let postgres: Figures;
  try {
    postgres = await measure({
      engine: 'postgres',
      url: TEST_POSTGRES_URL,
      schema: scratch.schema,
    });
  } finally {
    await scratch.drop();
  }
  const sqlite = await measure({ engine: 'sqlite', file: join(dir, 'bench.sqlite') });
  console.log(`eligibility-rps-postgres ${postgres.rps}`);
  console.log(`eligibility-p99-ms-postgres ${postgres.p99Ms}`);
  console.log(`eligibility-p99-ms-sqlite ${sqlite.p99Ms}`);
  console.log(`eligibility-rps-sqlite ${sqlite.rps}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
