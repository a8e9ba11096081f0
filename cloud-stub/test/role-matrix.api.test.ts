/**
 * The role matrix: every route of the contract against every kind of caller, each with a real
 * sign-in (no test tokens): a customer on a phone, a mechanic at an approved station of this
 * dealer (requests signed by the station), a mechanic of another dealer at theirs, a dealer
 * admin, a call-centre agent, and nobody. The table below has one row per route: a route added
 * to the contract without a row here fails the first test.
 *
 * Requests are chosen so an admitted caller reaches the handler deterministically (an unknown
 * id answers 404, a body that is not valid answers 400); 401 and 403 are the access decisions.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, signStationRequest } from '@mini-sharing/shared-protocol/api';
import { sampleInstallationReportJson } from '@mini-sharing/shared-protocol/diagnostics';
import { seedSigner, toHex, utf8, type Signer } from '@mini-sharing/shared-protocol/crypto';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { buildApp, type CloudApp } from '../src/app.js';
import { createAccount } from '../src/accounts/accounts.js';
import { hashPassword } from '../src/accounts/passwords.js';
import { saveWorkshopDirectory } from '../src/dealers/directory.js';
import { addStation, approveDealerStation } from '../src/stations/stations.js';
import { openTestStorage, type TestStorage } from '../src/storage/testing/engines.js';
import { saveVehicleOrder } from '../src/vehicles/orders.js';
import { ORDER_5GE, TEST_NOW, testConfig } from './helpers.js';

const CALLERS = [
  'customer',
  'mechanic of this dealer',
  'mechanic of another dealer',
  'dealer admin',
  'agent',
  'anonymous',
] as const;
type Caller = (typeof CALLERS)[number];
type Operation = keyof typeof API_ROUTES;

/** Expected status per route and caller, in CALLERS' order. */
const MATRIX: Record<Operation, readonly [number, number, number, number, number, number]> = {
  //                      customer mech-here mech-other admin agent anon
  getHealth: /*            */ [200, 200, 200, 200, 200, 200],
  getOpenApiDocument: /*   */ [200, 200, 200, 200, 200, 200],
  getVehicleOrder: /*      */ [403, 200, 200, 200, 200, 401],
  putVehicleOrder: /*      */ [403, 403, 403, 403, 200, 401],
  getVehicleEligibility: /**/ [403, 200, 200, 200, 200, 401],
  listFirmwareImages: /*   */ [403, 200, 200, 200, 200, 401],
  downloadFirmwareImage: /**/ [403, 404, 404, 404, 404, 401],
  publishFirmwareImage: /* */ [403, 403, 403, 403, 422, 401],
  login: /*                */ [400, 400, 400, 400, 400, 400],
  logout: /*               */ [204, 204, 204, 204, 204, 401],
  changePassword: /*       */ [400, 400, 400, 400, 400, 401],
  getMe: /*                */ [200, 200, 200, 200, 200, 401],
  registerStation: /*      */ [400, 400, 400, 400, 400, 400],
  listStations: /*         */ [403, 403, 403, 200, 403, 401],
  approveStation: /*       */ [403, 403, 403, 404, 403, 401],
  createRegistrationNonce: [403, 201, 201, 403, 403, 401],
  registerModule: /*       */ [403, 400, 400, 403, 403, 401],
  decommissionModule: /*   */ [403, 403, 403, 404, 403, 401],
  // Grants need a station session: the matrix's dealer admin signs in without one (403).
  issueWorkshopTestKey: /* */ [403, 404, 404, 403, 403, 401],
  issueServiceAuthorization: [403, 404, 404, 403, 403, 401],
  // A station session is checked first (the matrix's dealer admin has none: 403), then the module.
  submitInstallationReport: [403, 404, 404, 403, 403, 401],
  getModuleRecord: /*      */ [403, 404, 404, 404, 404, 401],
  getVehicleModuleRecord: /**/ [403, 404, 404, 404, 404, 401],
  listAuditLog: /*         */ [403, 403, 403, 403, 200, 401],
};

/** A request each route answers deterministically once the caller is let in. */
const REQUESTS: Record<Operation, { payload?: object }> = {
  getHealth: {},
  getOpenApiDocument: {},
  getVehicleOrder: {},
  putVehicleOrder: {
    payload: {
      model: ORDER_5GE.model,
      market: 'DE',
      productionDate: '2024-03-12',
      optionCodes: ['5GE'],
    },
  },
  getVehicleEligibility: {},
  listFirmwareImages: {},
  downloadFirmwareImage: {},
  publishFirmwareImage: { payload: { image: '', releaseNotes: '' } },
  login: { payload: {} },
  logout: {},
  changePassword: { payload: { currentPassword: 'the right password', newPassword: 'short' } },
  getMe: {},
  registerStation: { payload: {} },
  listStations: {},
  approveStation: {},
  createRegistrationNonce: {},
  registerModule: { payload: {} },
  decommissionModule: { payload: { reason: 'role matrix' } },
  issueWorkshopTestKey: { payload: { validForMinutes: 5 } },
  issueServiceAuthorization: { payload: { operations: ['flash'], validForMinutes: 5 } },
  submitInstallationReport: {
    payload: {
      ...sampleInstallationReportJson(),
      reportId: '00000000-0000-4000-8000-000000000000',
      moduleSerial: 'MSM-24-999001-2',
    },
  },
  getModuleRecord: {},
  getVehicleModuleRecord: {},
  listAuditLog: {},
};

const PASSWORD = 'the right password';
const PARAMS: Record<string, string> = {
  vin: ORDER_5GE.vin,
  id: '0'.repeat(64),
  /** A well-formed module serial the cloud does not know: admitted callers get 404. */
  serial: 'MSM-24-999001-2',
};

describe('the role matrix', () => {
  let storage: TestStorage;
  let cloud: CloudApp;
  const stations: Record<string, { id: string; signer: Signer }> = {};

  beforeAll(async () => {
    storage = await openTestStorage('sqlite');
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
      TEST_NOW,
    );
    await saveVehicleOrder(db, ORDER_5GE, TEST_NOW);
    const passwordHash = await hashPassword(PASSWORD, { logN: 10, r: 8, p: 1 });
    const account = (
      id: string,
      role: 'customer' | 'mechanic' | 'dealer-admin' | 'agent',
      dealerId?: string,
    ) =>
      createAccount(
        db,
        {
          id,
          email: `${id.toLowerCase()}@example.com`,
          password: PASSWORD,
          name: id,
          country: 'DE',
          role,
          dealerId: dealerId ?? null,
        },
        TEST_NOW,
        { passwordHash },
      );
    await account('CUS-1', 'customer');
    await account('MEC-1', 'mechanic', 'DLR-1');
    await account('MEC-2', 'mechanic', 'DLR-2');
    await account('ADM-1', 'dealer-admin', 'DLR-1');
    await account('AGT-1', 'agent');
    for (const dealerId of ['DLR-1', 'DLR-2']) {
      const signer = seedSigner(testSeed(`station of ${dealerId}`));
      const row = await addStation(
        db,
        { dealerId, name: 'Bay 1', publicKey: toHex(signer.publicKey) },
        TEST_NOW,
      );
      await approveDealerStation(db, dealerId, row.id, 'ADM', TEST_NOW);
      stations[dealerId] = { id: row.id, signer };
    }
    cloud = await buildApp(testConfig({ auth: {} }), {
      storage,
      logger: false,
      now: () => TEST_NOW,
    });
  });
  afterAll(async () => {
    await cloud?.app.close();
    await storage?.dispose();
  });

  /** An injected request, signed by `signer` when given. */
  async function request(
    method: string,
    url: string,
    payload: object | undefined,
    headers: Record<string, string>,
    signer?: Signer,
  ) {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const signature = signer
      ? await signStationRequest(signer, {
          method,
          path: url,
          body: utf8(body),
          timestamp: TEST_NOW.getTime(),
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
  }

  /** A fresh sign-in of `caller`: its headers and the station key that signs its requests. */
  async function signIn(
    caller: Caller,
  ): Promise<{ headers: Record<string, string>; signer?: Signer }> {
    if (caller === 'anonymous') return { headers: {} };
    const [id, station, extra] = {
      customer: ['CUS-1', undefined, { devicePublicKey: 'cd'.repeat(32) }],
      'mechanic of this dealer': ['MEC-1', stations['DLR-1'], {}],
      'mechanic of another dealer': ['MEC-2', stations['DLR-2'], {}],
      'dealer admin': ['ADM-1', undefined, {}],
      agent: ['AGT-1', undefined, {}],
    }[caller] as [string, { id: string; signer: Signer } | undefined, object];
    const response = await request(
      'POST',
      '/v1/auth/login',
      {
        email: `${id.toLowerCase()}@example.com`,
        password: PASSWORD,
        ...extra,
        ...(station ? { stationId: station.id } : {}),
      },
      {},
      station?.signer,
    );
    expect(response.statusCode, response.body).toBe(200);
    const headers = { authorization: `Bearer ${response.json().accessToken}` };
    return station ? { headers, signer: station.signer } : { headers };
  }

  it('has a row for every route of the contract, and no other', () => {
    expect(Object.keys(MATRIX).sort()).toEqual(Object.keys(API_ROUTES).sort());
    expect(Object.keys(REQUESTS).sort()).toEqual(Object.keys(API_ROUTES).sort());
  });

  for (const operation of Object.keys(API_ROUTES) as Operation[]) {
    const route = API_ROUTES[operation];
    CALLERS.forEach((caller, column) => {
      const expected = MATRIX[operation]?.[column];
      it(`${route.method} ${route.url} as ${caller}: ${expected}`, async () => {
        const { headers, signer } = await signIn(caller);
        const url = route.url.replace(/:([a-z]+)/g, (_, name: string) =>
          name === 'id' && route.url.startsWith('/v1/stations')
            ? 'STN-00000000-0000-0000-0000-000000000000'
            : PARAMS[name]!,
        );
        const response = await request(
          route.method,
          url,
          REQUESTS[operation].payload,
          headers,
          signer,
        );
        expect(response.statusCode, response.body.slice(0, 300)).toBe(expected);
        if (response.statusCode >= 400) {
          expect(response.json().error.message.length).toBeGreaterThan(10);
        }
      });
    });
  }
});
