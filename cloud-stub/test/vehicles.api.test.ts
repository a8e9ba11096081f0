/** The vehicles routes over HTTP (app.inject), on both engines. */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeIneligibility } from '@mini-sharing/shared-protocol/vehicle';
import type { CloudApp } from '../src/app.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { saveVehicleOrder } from '../src/vehicles/orders.js';
import { ORDER_5GE, ORDER_NO_5GE, TEST_NOW, as, testApp } from './helpers.js';

describeEngines('vehicles API', (storage) => {
  let cloud: CloudApp;
  beforeAll(async () => {
    cloud = await testApp(storage());
  });
  afterAll(async () => {
    await cloud.app.close();
  });
  beforeEach(async () => {
    await saveVehicleOrder(storage().db, ORDER_5GE, TEST_NOW);
    await saveVehicleOrder(storage().db, ORDER_NO_5GE, TEST_NOW);
  });
  const get = (url: string) => cloud.app.inject({ method: 'GET', url, headers: as('mechanic') });

  it('answers the vehicle order of a VIN, whatever its case and spaces', async () => {
    const response = await get(`/v1/vehicles/${encodeURIComponent(' wmw31dh0302s71642 ')}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(ORDER_5GE);
  });

  it('says a car with 5GE is eligible', async () => {
    const response = await get(`/v1/vehicles/${ORDER_5GE.vin}/eligibility`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      vin: ORDER_5GE.vin,
      eligible: true,
      reasons: [],
      checked: { vehicleOrder: true, carCoding: false },
      orderOptionCodes: ORDER_5GE.optionCodes,
    });
  });

  it('says a car without 5GE is not eligible, with the reasons', async () => {
    const response = await get(`/v1/vehicles/${ORDER_NO_5GE.vin}/eligibility`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      eligible: false,
      reasons: [{ reason: 'no-5ge-in-order', message: describeIneligibility('no-5ge-in-order') }],
    });
    const withCoding = await get(
      `/v1/vehicles/${ORDER_NO_5GE.vin}/eligibility?carOptionCodes=S5GE,6AC`,
    );
    expect(withCoding.json().reasons.map((r: { reason: string }) => r.reason)).toEqual([
      'no-5ge-in-order',
      'order-and-car-disagree',
    ]);
  });

  it('refuses a bad VIN with 400 and the VIN rule’s words', async () => {
    for (const [vin, words] of [
      ['WMW31DH0302S7164', /has 16 characters; a VIN has exactly 17/],
      ['WMW31DH0302SI1642', /Character 13 of the VIN is "I".*probably the digit 1/],
      ['5UXTY5C0YR9U31709', /check digit \(character 9\) is Y but the other characters give X/],
    ] as const) {
      for (const url of [`/v1/vehicles/${vin}`, `/v1/vehicles/${vin}/eligibility`]) {
        const response = await get(url);
        expect(response.statusCode, url).toBe(400);
        expect(response.json().error).toMatchObject({
          code: 'invalid-vin',
          message: expect.stringMatching(words),
        });
        expect(response.json().error.details[0].path).toBe('params.vin');
      }
    }
  });

  it('answers 404 for a VIN that is valid but not registered', async () => {
    for (const url of [
      '/v1/vehicles/WMW31DH0302S71643',
      '/v1/vehicles/WMW31DH0302S71643/eligibility',
    ]) {
      const response = await get(url);
      expect(response.statusCode).toBe(404);
      expect(response.json().error).toMatchObject({
        code: 'not-found',
        message: expect.stringContaining(
          'No vehicle order is registered for VIN WMW31DH0302S71643',
        ),
      });
    }
  });

  it('refuses car option codes that are not option codes', async () => {
    const response = await get(
      `/v1/vehicles/${ORDER_5GE.vin}/eligibility?carOptionCodes=5GE,NOTACODE`,
    );
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({
      code: 'invalid-request',
      details: [{ path: 'querystring.carOptionCodes' }],
    });
  });

  it('lets the order system register and correct an order, idempotently', async () => {
    const vin = 'WMW53DH05P2T41785';
    const body = {
      model: 'MINI Cooper S Hardtop 2 Door',
      market: 'US',
      productionDate: '2023-01-16',
      optionCodes: ['5GE', 's6ac'],
    };
    const put = (payload: object) =>
      cloud.app.inject({
        method: 'PUT',
        url: `/v1/vehicles/${vin}`,
        headers: as('agent'),
        payload,
      });
    const first = await put(body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ vin, ...body, optionCodes: ['5GE', '6AC'] });
    expect((await put(body)).statusCode).toBe(200);
    expect((await put({ ...body, model: 'MINI Cooper S' })).json().model).toBe('MINI Cooper S');
    expect((await get(`/v1/vehicles/${vin}`)).json().model).toBe('MINI Cooper S');
  });

  it('checks a registered VIN against its market: a US car needs a right check digit', async () => {
    const response = await cloud.app.inject({
      method: 'PUT',
      url: '/v1/vehicles/WMW31DH0302S71642',
      headers: as('agent'),
      payload: { model: 'MINI', market: 'US', productionDate: '2024-03-12', optionCodes: ['5GE'] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({
      code: 'invalid-vin',
      message: expect.stringMatching(/check digit/),
    });
    expect((await get('/v1/vehicles/WMW31DH0302S71642')).json()).toEqual(ORDER_5GE);
  });
});
