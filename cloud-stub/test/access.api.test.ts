/**
 * Every route declares who may call it, and the app enforces it for every kind of caller:
 * anonymous (401 unless public), customer, mechanic, dealer admin and agent (403 when their role
 * may not). The check runs before the body is read, and a refused write changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANONYMOUS_ALLOWED,
  API_ROUTES,
  mayCall,
  type ApiRoute,
} from '@mini-sharing/shared-protocol/api';
import { buildApp, type CloudApp } from '../src/app.js';
import { openTestStorage, type TestStorage } from '../src/storage/testing/engines.js';
import { findVehicleOrder, saveVehicleOrder } from '../src/vehicles/orders.js';
import {
  CALLER_KINDS,
  ORDER_5GE,
  PRINCIPALS,
  TEST_NOW,
  as,
  testApp,
  testConfig,
} from './helpers.js';

/** A request each route would accept from a caller it lets in. */
function requestFor(route: ApiRoute) {
  const url = route.url.replace(':vin', ORDER_5GE.vin).replace(':id', '0'.repeat(64));
  const payload =
    route.operationId === 'putVehicleOrder'
      ? { model: 'Changed', market: 'DE', productionDate: '2024-03-12', optionCodes: ['5GE'] }
      : route.operationId === 'publishFirmwareImage'
        ? { image: '', releaseNotes: '' }
        : route.operationId === 'login'
          ? { email: 'nobody@example.com', password: 'x', unknown: 1 }
          : route.operationId === 'changePassword'
            ? { currentPassword: 'x', newPassword: 'too short' }
            : undefined;
  return { method: route.method, url, ...(payload === undefined ? {} : { payload }) };
}

describe('access control', () => {
  let storage: TestStorage;
  let cloud: CloudApp;
  beforeAll(async () => {
    storage = await openTestStorage('sqlite');
    await saveVehicleOrder(storage.db, ORDER_5GE, TEST_NOW);
    cloud = await testApp(storage);
  });
  afterAll(async () => {
    await cloud.app.close();
    await storage.dispose();
  });

  for (const route of Object.values(API_ROUTES) as ApiRoute[]) {
    for (const who of CALLER_KINDS) {
      const role = who === 'anonymous' ? undefined : PRINCIPALS[who].role;
      const allowed = mayCall(route.access, role);
      it(`${route.method} ${route.url} as ${who}: ${allowed ? 'let in' : 'refused'}`, async () => {
        const response = await cloud.app.inject({ ...requestFor(route), headers: as(who) });
        if (allowed && response.statusCode === 403) {
          // Let in by role; the workshop-station routes then refuse a session signed in
          // elsewhere (test tokens carry no station): that refusal, and only that one.
          expect(response.json().error.message).toMatch(
            /only at a workshop station: sign in at an approved workshop station/,
          );
        } else if (allowed) {
          expect(response.statusCode).not.toBe(401);
        } else if (who === 'anonymous') {
          expect(response.statusCode).toBe(401);
          expect(response.json().error.code).toBe('unauthenticated');
        } else {
          expect(response.statusCode).toBe(403);
          expect(response.json().error).toMatchObject({
            code: 'forbidden',
            message: expect.stringContaining(`A ${role} account may not use`),
          });
        }
      });
    }
  }

  it('gives every route of the contract a declared access, and the app has no route outside it', () => {
    const contract = new Set(Object.values(API_ROUTES).map((r) => `${r.method} ${r.url}`));
    const served = cloud.routes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url}`);
    expect(new Set(served)).toEqual(contract);
    for (const route of cloud.routes)
      expect(route.access, `${route.method} ${route.url}`).toBeDefined();
  });

  it('refused writes change nothing, and a refused caller’s body is never looked at', async () => {
    // (The matrix above let the agent change it: put it back.)
    await saveVehicleOrder(storage.db, ORDER_5GE, TEST_NOW);
    for (const who of ['anonymous', 'customer', 'mechanic', 'dealer-admin'] as const) {
      const response = await cloud.app.inject({
        method: 'PUT',
        url: `/v1/vehicles/${ORDER_5GE.vin}`,
        headers: { ...as(who), 'content-type': 'application/json' },
        payload: '{"this is": not even JSON',
      });
      expect(response.statusCode).toBe(who === 'anonymous' ? 401 : 403);
    }
    expect(await findVehicleOrder(storage.db, ORDER_5GE.vin)).toEqual(ORDER_5GE);
  });

  it('refuses a forged or altered test token with 401', async () => {
    const token = as('customer')['x-test-principal']!;
    const [payload, signature] = token.split('.');
    const agent = Buffer.from(JSON.stringify(PRINCIPALS.agent)).toString('base64url');
    for (const forged of [`${agent}.${signature}`, `${payload}.${signature}x`, payload!, 'a.b.c']) {
      const response = await cloud.app.inject({
        url: '/v1/firmware',
        headers: { 'x-test-principal': forged },
      });
      expect(response.statusCode, forged).toBe(401);
      expect(response.json().error.code).toBe('unauthenticated');
    }
  });

  it('refuses to register a route that declares no access', async () => {
    await expect(
      buildApp(testConfig(), {
        storage,
        logger: false,
        plugins: [
          {
            name: 'careless',
            plugin: async (app) => {
              app.get('/v1/careless', async () => 'hello');
            },
          },
        ],
      }),
    ).rejects.toThrow(/route GET \/v1\/careless declares no access/);
  });

  describe('without a test token secret (production)', () => {
    let strict: CloudApp;
    beforeAll(async () => {
      strict = await testApp(storage, { auth: {} });
    });
    afterAll(async () => {
      await strict.app.close();
    });

    it('ignores test tokens: public routes answer, the rest ask to sign in', async () => {
      for (const route of Object.values(API_ROUTES) as ApiRoute[]) {
        const response = await strict.app.inject({ ...requestFor(route), headers: as('agent') });
        if (route.access === ANONYMOUS_ALLOWED) {
          expect(response.statusCode, route.url).not.toBe(401);
        } else {
          expect(response.statusCode, route.url).toBe(401);
          expect(response.json().error.message).toMatch(
            /Sign in first: .* \(send Authorization: Bearer <access token> from POST \/v1\/auth\/login\)/,
          );
        }
      }
    });
  });
});
