/**
 * The registration benchmark's workload: distinct modules registering with valid proofs, all
 * prepared before the clock starts, so the figure measures the real path (nonce check, proof,
 * certificate, MQTT password hashing with scrypt, the transaction), never the idempotent repeat.
 *
 * For each registration: a 5GE vehicle order and a nonce issued to the bench station (straight
 * into their tables), a fresh module identity key and its signature over the nonce and serial,
 * and the station's request signature (timestamp and nonce; signed just before the phase, as a
 * signature is good for 60 s). autocannon sends them from a worker thread: each connection takes
 * the next prepared request from a small CommonJS module (setupRequest) written beside the data.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import {
  REGISTRATION_NONCE_VALIDITY_MS,
  STATION_SIGNATURE_WINDOW_MS,
  signStationRequest,
  type ModuleRegistrationRequest,
} from '@mini-sharing/shared-protocol/api';
import {
  fromHex,
  generateEd25519Seed,
  seedSigner,
  toHex,
  utf8,
  type Signer,
} from '@mini-sharing/shared-protocol/crypto';
import { provisioningNonceInput } from '@mini-sharing/shared-protocol/trust';
import { formatModuleSerial, validateVin } from '@mini-sharing/shared-protocol/vehicle';
import { createAccount } from '../src/accounts/accounts.js';
import { hashPassword } from '../src/accounts/passwords.js';
import { saveWorkshopDirectory } from '../src/dealers/directory.js';
import type { Storage } from '../src/storage/storage.js';
import { addStation, approveDealerStation } from '../src/stations/stations.js';

const DEALER = 'DLR-BENCH';
const MECHANIC = 'MEC-BENCH';
const EMAIL = 'bench.mechanic@example.com';
const PASSWORD = 'bench mechanic password';
const PATH = '/v1/modules';
/** Rows per multi-row insert (well under SQLite's bound-parameter limit). */
const CHUNK = 400;

export interface Figures {
  rps: number;
  p99Ms: number;
}

/** A mechanic signed in at an approved station of the bench dealer. */
interface BenchStation {
  accessToken: string;
  stationId: string;
  signer: Signer;
}

interface PreparedRegistration {
  body: string;
}

const vinOf = (index: number): string => {
  const vin = `WMW31DH0302B${String(index).padStart(5, '0')}`;
  if (!validateVin(vin).ok || index > 99_999) throw new Error(`bench VIN ${vin} is not valid`);
  return vin;
};

async function insertInChunks<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += CHUNK) await insert(rows.slice(i, i + CHUNK));
}

/** The dealer, its mechanic and approved station, and the mechanic's sign-in at it. */
async function openBenchStation(storage: Storage, url: string): Promise<BenchStation> {
  const { db } = storage;
  const now = new Date();
  await saveWorkshopDirectory(
    db,
    {
      format: 'mini-sharing/workshop-directory',
      version: 1,
      dealers: [{ id: DEALER, name: 'MINI Bench', market: 'DE', mechanics: [] }],
    },
    now,
  );
  await createAccount(
    db,
    {
      id: MECHANIC,
      email: EMAIL,
      password: PASSWORD,
      name: 'Bench Mechanic',
      country: 'DE',
      role: 'mechanic',
      dealerId: DEALER,
    },
    now,
    // Sign-in is not what is measured: a cheap hash.
    { passwordHash: await hashPassword(PASSWORD, { logN: 10, r: 8, p: 1 }) },
  );
  const signer = seedSigner(generateEd25519Seed());
  const station = await addStation(
    db,
    { dealerId: DEALER, name: 'Bench bay', publicKey: toHex(signer.publicKey) },
    now,
  );
  await approveDealerStation(db, DEALER, station.id, 'ADM-BENCH', now);
  const body = JSON.stringify({ email: EMAIL, password: PASSWORD, stationId: station.id });
  const signature = await signStationRequest(signer, {
    method: 'POST',
    path: '/v1/auth/login',
    body: utf8(body),
    timestamp: Date.now(),
    nonce: randomBytes(16).toString('base64url'),
  });
  const response = await fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signature },
    body,
  });
  if (response.status !== 200) {
    throw new Error(`bench sign-in failed: ${response.status} ${await response.text()}`);
  }
  const { accessToken } = (await response.json()) as { accessToken: string };
  return { accessToken, stationId: station.id, signer };
}

/**
 * Registrations `first` .. `first + count - 1`: their vehicle orders and nonces stored, their
 * module proofs made (the slow part, so before the clock).
 */
async function prepareRegistrations(
  storage: Storage,
  station: BenchStation,
  first: number,
  count: number,
): Promise<PreparedRegistration[]> {
  const now = new Date();
  const at = now.toISOString();
  const expiresAt = new Date(now.getTime() + REGISTRATION_NONCE_VALIDITY_MS).toISOString();
  const modules = Array.from({ length: count }, (_, i) => ({
    serial: formatModuleSerial({ year: 25, sequence: first + i }),
    vin: vinOf(first + i),
    nonce: randomBytes(32).toString('hex'),
    identity: seedSigner(generateEd25519Seed()),
  }));
  await insertInChunks(modules, (chunk) =>
    storage.db
      .insertInto('vehicle_orders')
      .values(
        chunk.map((m) => ({
          vin: m.vin,
          model: 'MINI Cooper SE 3-door',
          market: 'DE',
          production_date: '2024-03-12',
          option_codes: '5GE,6AC',
          created_at: at,
          updated_at: at,
        })),
      )
      .execute(),
  );
  await insertInChunks(modules, (chunk) =>
    storage.db
      .insertInto('registration_nonces')
      .values(
        chunk.map((m) => ({
          nonce: m.nonce,
          account_id: MECHANIC,
          station_id: station.stationId,
          created_at: at,
          expires_at: expiresAt,
          used_at: null,
          used_for_serial: null,
        })),
      )
      .execute(),
  );
  return Promise.all(
    modules.map(async (m) => {
      const signature = await m.identity.sign(provisioningNonceInput(fromHex(m.nonce), m.serial));
      const request: ModuleRegistrationRequest = {
        moduleSerial: m.serial,
        vin: m.vin,
        hardwareRevision: 'HW-C',
        firmwareVersion: '1.1.0',
        identityPublicKey: toHex(m.identity.publicKey),
        nonce: m.nonce,
        nonceSignature: toHex(signature),
      };
      return { body: JSON.stringify(request) };
    }),
  );
}

/**
 * Signs every prepared request as the station (now: good for the next 60 s) and writes them with
 * the setupRequest module autocannon's worker loads. Returns the module's path.
 */
async function writePhase(
  dir: string,
  name: string,
  station: BenchStation,
  prepared: PreparedRegistration[],
): Promise<string> {
  const timestamp = Date.now();
  const requests = await Promise.all(
    prepared.map(async ({ body }) => ({
      body,
      headers: {
        authorization: `Bearer ${station.accessToken}`,
        'content-type': 'application/json',
        ...(await signStationRequest(station.signer, {
          method: 'POST',
          path: PATH,
          body: utf8(body),
          timestamp,
          nonce: randomBytes(16).toString('base64url'),
        })),
      },
    })),
  );
  const data = join(dir, `${name}.json`);
  const setup = join(dir, `${name}.cjs`);
  writeFileSync(data, JSON.stringify(requests));
  // Each request of every connection takes the next prepared one; none is ever sent twice.
  writeFileSync(
    setup,
    `'use strict';
const prepared = require(${JSON.stringify(data)});
let next = 0;
module.exports = function setupRequest(request) {
  const entry = prepared[next++];
  if (entry === undefined) throw new Error('the benchmark ran out of prepared registrations');
  return { ...request, headers: entry.headers, body: entry.body };
};
`,
  );
  return setup;
}

async function runPhase(
  url: string,
  setupRequest: string,
  amount: number,
  connections: number,
): Promise<autocannon.Result> {
  const result = await autocannon({
    url,
    connections,
    amount,
    workers: 1,
    timeout: STATION_SIGNATURE_WINDOW_MS / 1000,
    requests: [{ method: 'POST', path: PATH, setupRequest }],
  });
  const statusCodes = Object.entries(result.statusCodeStats ?? {});
  const created = statusCodes.find(([code]) => code === '201')?.[1].count ?? 0;
  if (created !== amount || result.errors > 0 || result.timeouts > 0) {
    const codes = statusCodes.map(([code, stats]) => `${stats.count ?? 0} x ${code}`).join(', ');
    throw new Error(
      `registration benchmark: ${created} of ${amount} registrations answered 201 (${codes || 'none'}; ` +
        `${result.errors} errors, ${result.timeouts} timeouts)` +
        (statusCodes.some(([code]) => code === '401')
          ? ': 401s mean the run outlasted the station signatures (60 s); lower CLOUD_STUB_BENCH_SECONDS'
          : ''),
    );
  }
  return result;
}

/**
 * Registration throughput and p99 latency against the app listening at `url` on `storage`: a
 * short warm-up estimates the rate, then about `seconds` worth of distinct registrations.
 */
export async function measureRegistration(
  storage: Storage,
  url: string,
  options: { dir: string; seconds: number; connections: number },
): Promise<Figures> {
  const { dir, seconds, connections } = options;
  if (seconds * 2 > STATION_SIGNATURE_WINDOW_MS / 1000) {
    throw new Error(
      `station request signatures are good for ${STATION_SIGNATURE_WINDOW_MS / 1000} s, so the ` +
        `registration run is at most ${STATION_SIGNATURE_WINDOW_MS / 2000} s: lower CLOUD_STUB_BENCH_SECONDS`,
    );
  }
  const station = await openBenchStation(storage, url);
  const tag = storage.engine;

  const warmUpCount = connections * 4;
  const warmUp = await prepareRegistrations(storage, station, 0, warmUpCount);
  const warmUpResult = await runPhase(
    url,
    await writePhase(dir, `${tag}-warm-up`, station, warmUp),
    warmUpCount,
    connections,
  );
  const warmRate = warmUpCount / Math.max(warmUpResult.duration, 0.01);

  const count = Math.max(connections * 4, Math.round(warmRate * seconds));
  const measured = await prepareRegistrations(storage, station, warmUpCount, count);
  const result = await runPhase(
    url,
    await writePhase(dir, `${tag}-measured`, station, measured),
    count,
    connections,
  );
  const stored = await storage.db
    .selectFrom('module_registrations')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('status', '=', 'active')
    .executeTakeFirstOrThrow();
  if (Number(stored.count) !== warmUpCount + count) {
    throw new Error(
      `registration benchmark: ${Number(stored.count)} registrations stored, ${warmUpCount + count} expected`,
    );
  }
  return {
    rps: Math.round(count / Math.max(result.duration, 0.01)),
    p99Ms: result.latency.p99,
  };
}
