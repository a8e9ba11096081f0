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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '@mini-sharing/shared-protocol/api';
import { sampleInstallationReportJson } from '@mini-sharing/shared-protocol/diagnostics';
import { buildApp, type CloudApp } from '../src/app.js';
import { openTestStorage, type TestStorage } from '../src/storage/testing/engines.js';
import { ORDER_5GE, TEST_NOW, testConfig } from './helpers.js';
import {
  seedWorkshopWorld,
  signIn,
  type ApiClient,
  type PersonId,
  type WorkshopWorld,
} from './workshop-fixture.js';

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
  revokeStation: /*        */ [403, 403, 403, 404, 403, 401],
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
  revokeStation: {},
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

const PARAMS: Record<string, string> = {
  vin: ORDER_5GE.vin,
  id: '0'.repeat(64),
  /** A well-formed module serial the cloud does not know: admitted callers get 404. */
  serial: 'MSM-24-999001-2',
};

describe('the role matrix', () => {
  let storage: TestStorage;
  let cloud: CloudApp;
  let world: WorkshopWorld;

  beforeAll(async () => {
    storage = await openTestStorage('sqlite');
    world = await seedWorkshopWorld(storage, TEST_NOW);
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

  /** The account each kind of caller signs in as (mechanics at their dealer's station). */
  const ACCOUNT: Record<Exclude<Caller, 'anonymous'>, PersonId> = {
    customer: 'CUS-1',
    'mechanic of this dealer': 'MEC-1',
    'mechanic of another dealer': 'MEC-2',
    'dealer admin': 'ADM-1',
    agent: 'AGT-1',
  };

  /** A fresh sign-in of `caller`, and its request function. */
  async function requester(caller: Caller): Promise<ApiClient['request']> {
    if (caller !== 'anonymous') {
      return (await signIn(cloud, world, ACCOUNT[caller], { now: () => TEST_NOW })).request;
    }
    return (method, url, payload) =>
      cloud.app.inject({
        method,
        url,
        ...(payload === undefined
          ? {}
          : { payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }),
      });
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
        const request = await requester(caller);
        const url = route.url.replace(/:([a-z]+)/g, (_, name: string) =>
          name === 'id' && route.url.startsWith('/v1/stations')
            ? 'STN-00000000-0000-0000-0000-000000000000'
            : PARAMS[name]!,
        );
        const response = await request(route.method, url, REQUESTS[operation].payload);
        expect(response.statusCode, response.body.slice(0, 300)).toBe(expected);
        if (response.statusCode >= 400) {
          expect(response.json().error.message.length).toBeGreaterThan(10);
        }
      });
    });
  }
});
