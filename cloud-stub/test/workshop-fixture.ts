/**
 * A workshop world for route tests, with real sign-ins (no test tokens): two dealers, each with a
 * mechanic, a dealer admin and an approved station; an agent; a customer; the 5GE order and one
 * without 5GE. `signIn` gives a client whose requests carry the access token and, for a session
 * at a station, the station's signature (what the workshop app sends).
 *
 * `insertModuleRegistration` puts a registered module straight into the store (with a real
 * certificate from the app's keys), for tests of what comes after registration.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { signStationRequest, type HttpMethod } from '@mini-sharing/shared-protocol/api';
import { seedSigner, toHex, utf8, type Signer } from '@mini-sharing/shared-protocol/crypto';
import { issueModuleCertificate } from '@mini-sharing/shared-protocol/trust';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import type { CloudApp } from '../src/app.js';
import { createAccount } from '../src/accounts/accounts.js';
import { hashPassword } from '../src/accounts/passwords.js';
import { saveWorkshopDirectory } from '../src/dealers/directory.js';
import { hashModulePassword } from '../src/keys/module-credentials.js';
import type { ModuleRegistrationRow } from '../src/storage/schema.js';
import type { Storage } from '../src/storage/storage.js';
import { addStation, approveDealerStation } from '../src/stations/stations.js';
import { saveVehicleOrder } from '../src/vehicles/orders.js';
import { ORDER_5GE, ORDER_NO_5GE } from './helpers.js';

export const WORKSHOP_PASSWORD = 'the right password';

/** The people of the fixture, by account id. */
export const PEOPLE = {
  'MEC-1': { role: 'mechanic', dealerId: 'DLR-1' },
  'ADM-1': { role: 'dealer-admin', dealerId: 'DLR-1' },
  'MEC-2': { role: 'mechanic', dealerId: 'DLR-2' },
  'ADM-2': { role: 'dealer-admin', dealerId: 'DLR-2' },
  'AGT-1': { role: 'agent', dealerId: null },
  'CUS-1': { role: 'customer', dealerId: null },
} as const;
export type PersonId = keyof typeof PEOPLE;

export interface FixtureStation {
  id: string;
  dealerId: string;
  signer: Signer;
}

export interface WorkshopWorld {
  stations: { 'DLR-1': FixtureStation; 'DLR-2': FixtureStation };
}

/** Dealers, people (password WORKSHOP_PASSWORD) and the two vehicle orders, in an empty store. */
export async function seedWorkshopPeople(storage: Storage, now: Date): Promise<void> {
  const { db } = storage;
  await saveWorkshopDirectory(
    db,
    {
      format: 'mini-sharing/workshop-directory',
      version: 1,
      dealers: [
        { id: 'DLR-1', name: 'MINI One', market: 'DE', mechanics: [] },
        { id: 'DLR-2', name: 'MINI Two', market: 'AT', mechanics: [] },
      ],
    },
    now,
  );
  await saveVehicleOrder(db, ORDER_5GE, now);
  await saveVehicleOrder(db, ORDER_NO_5GE, now);
  // A cheap hash: the fixture signs in often; the cost parameters are tested in accounts/.
  const passwordHash = await hashPassword(WORKSHOP_PASSWORD, { logN: 10, r: 8, p: 1 });
  for (const [id, person] of Object.entries(PEOPLE)) {
    await createAccount(
      db,
      {
        id,
        email: `${id.toLowerCase()}@example.com`,
        password: WORKSHOP_PASSWORD,
        name: `Person ${id}`,
        country: 'DE',
        role: person.role,
        dealerId: person.dealerId,
      },
      now,
      { passwordHash },
    );
  }
}

/** seedWorkshopPeople, and an approved station for each dealer. */
export async function seedWorkshopWorld(storage: Storage, now: Date): Promise<WorkshopWorld> {
  await seedWorkshopPeople(storage, now);
  const { db } = storage;
  const station = async (dealerId: 'DLR-1' | 'DLR-2'): Promise<FixtureStation> => {
    const signer = seedSigner(testSeed(`workshop fixture station of ${dealerId}`));
    const row = await addStation(
      db,
      { dealerId, name: 'Bay 1', publicKey: toHex(signer.publicKey) },
      now,
    );
    await approveDealerStation(db, dealerId, row.id, `ADM-${dealerId.slice(-1)}`, now);
    return { id: row.id, dealerId, signer };
  };
  return { stations: { 'DLR-1': await station('DLR-1'), 'DLR-2': await station('DLR-2') } };
}

export interface ApiClient {
  /** The account id signed in. */
  accountId: PersonId;
  /** The station the session is at (mechanics always, dealer admins when asked). */
  station: FixtureStation | undefined;
  request(method: HttpMethod, url: string, payload?: unknown): Promise<LightMyRequestResponse>;
}

/**
 * Signs `id` in (mechanics at their dealer's station; a dealer admin at it when `atStation`) and
 * returns a client for further requests. `now` is the cloud's clock (signatures use it).
 */
export async function signIn(
  cloud: CloudApp,
  world: WorkshopWorld,
  id: PersonId,
  options: { now: () => Date; atStation?: boolean },
): Promise<ApiClient> {
  const person = PEOPLE[id];
  const station =
    person.dealerId !== null && (person.role === 'mechanic' || options.atStation)
      ? world.stations[person.dealerId]
      : undefined;
  const send = async (
    method: string,
    url: string,
    payload: unknown,
    headers: Record<string, string>,
  ) => {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const signature = station
      ? await signStationRequest(station.signer, {
          method,
          path: url,
          body: utf8(body),
          timestamp: options.now().getTime(),
          nonce: randomBytes(16).toString('base64url'),
        })
      : {};
    return cloud.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...headers,
        ...signature,
        ...(body === '' ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === '' ? {} : { payload: body }),
    });
  };
  const login = await send(
    'POST',
    '/v1/auth/login',
    {
      email: `${id.toLowerCase()}@example.com`,
      password: WORKSHOP_PASSWORD,
      ...(person.role === 'customer' ? { devicePublicKey: 'cd'.repeat(32) } : {}),
      ...(station ? { stationId: station.id } : {}),
    },
    {},
  );
  expect(login.statusCode, login.body).toBe(200);
  const authorization = `Bearer ${login.json().accessToken as string}`;
  return {
    accountId: id,
    station,
    request: (method, url, payload) => send(method, url, payload, { authorization }),
  };
}

/** A module's identity key pair, as a module would make at provisioning (deterministic per name). */
export const moduleIdentity = (name: string): Signer => seedSigner(testSeed(`module ${name}`));

/**
 * Inserts an active registration of `serial` to `vin` (certificate issued by the app's current
 * signing key), as the registration route would leave it. Returns the row.
 */
export async function insertModuleRegistration(
  cloud: CloudApp,
  module: {
    serial: string;
    vin: string;
    identity?: Signer;
    dealerId?: string;
    mechanicId?: string;
    stationId?: string;
    readyToShare?: boolean;
    hardwareRevision?: string;
    firmwareVersion?: string;
  },
): Promise<ModuleRegistrationRow> {
  const { storage, keys, now } = cloud.context;
  const identity = module.identity ?? moduleIdentity(module.serial);
  const at = now();
  const certificate = await issueModuleCertificate(keys.signer, {
    moduleSerial: module.serial,
    modulePublicKey: identity.publicKey,
    vin: module.vin,
    issuedAtMs: at.getTime(),
  });
  const row: ModuleRegistrationRow = {
    id: `REG-${randomUUID()}`,
    serial: module.serial,
    vin: module.vin,
    hardware_revision: module.hardwareRevision ?? 'HW-B',
    firmware_version: module.firmwareVersion ?? '1.1.0',
    identity_public_key: toHex(identity.publicKey),
    certificate,
    advertising_secret: randomBytes(32),
    mqtt_username: module.serial,
    mqtt_password_hash: hashModulePassword('fixture module password, long enough to be a secret'),
    owner_generation: 0,
    status: 'active',
    dealer_id: module.dealerId ?? 'DLR-1',
    mechanic_id: module.mechanicId ?? 'MEC-1',
    station_id: module.stationId ?? 'STN-fixture',
    registered_at: at.toISOString(),
    updated_at: at.toISOString(),
    ready_to_share_at: module.readyToShare ? at.toISOString() : null,
    decommissioned_at: null,
    decommissioned_by: null,
    decommission_reason: null,
  };
  await storage.db.insertInto('module_registrations').values(row).execute();
  return row;
}
