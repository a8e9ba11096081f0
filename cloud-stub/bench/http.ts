/**
 * HTTP benchmarks on loopback against the real app on each engine (SQLite file in WAL mode;
 * PostgreSQL in a scratch schema on 127.0.0.1:5432): eligibility by VIN, the workshop's most
 * frequent call, and module registration at provisioning (distinct modules with valid proofs
 * prepared before the clock starts: registration-load.ts). autocannon drives it from a worker
 * thread so client and server do not share an event loop. Prints `name value` lines, the
 * headline last:
 *
 *   eligibility-rps-postgres, eligibility-p99-ms-postgres,
 *   eligibility-p99-ms-sqlite, eligibility-rps-sqlite,
 *   registration-p99-ms-sqlite, registration-rps-sqlite,
 *   registration-p99-ms-postgres, registration-rps-postgres
 *
 * CLOUD_STUB_BENCH_SECONDS sets the measured time per engine and workload (default 10; a warm-up
 * first; at most 30 for registration, whose station signatures are good for 60 s). Every
 * registration must answer 201, or the run fails. PostgreSQL down fails the run, as it fails the
 * tests.
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
import { measureRegistration, type Figures } from './registration-load.js';

const SECONDS = Number(process.env.CLOUD_STUB_BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const SECRET = 'cloud-stub benchmark secret';

interface EngineFigures {
  eligibility: Figures;
  registration: Figures;
}

async function measure(storageConfig: StorageConfig, dir: string): Promise<EngineFigures> {
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
      const eligibility = { rps: Math.round(result.requests.average), p99Ms: result.latency.p99 };
      const registration = await measureRegistration(storage, url, {
        dir,
        seconds: SECONDS,
        connections: CONNECTIONS,
      });
      return { eligibility, registration };
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
  let postgres: EngineFigures;
  try {
    postgres = await measure(
      { engine: 'postgres', url: TEST_POSTGRES_URL, schema: scratch.schema },
      dir,
    );
  } finally {
    await scratch.drop();
  }
  const sqlite = await measure({ engine: 'sqlite', file: join(dir, 'bench.sqlite') }, dir);
  console.log(`eligibility-rps-postgres ${postgres.eligibility.rps}`);
  console.log(`eligibility-p99-ms-postgres ${postgres.eligibility.p99Ms}`);
  console.log(`eligibility-p99-ms-sqlite ${sqlite.eligibility.p99Ms}`);
  console.log(`eligibility-rps-sqlite ${sqlite.eligibility.rps}`);
  console.log(`registration-p99-ms-sqlite ${sqlite.registration.p99Ms}`);
  console.log(`registration-rps-sqlite ${sqlite.registration.rps}`);
  console.log(`registration-p99-ms-postgres ${postgres.registration.p99Ms}`);
  console.log(`registration-rps-postgres ${postgres.registration.rps}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
