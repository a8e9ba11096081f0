/**
 * Bad input gets a 4xx with the error shape and changes nothing: unknown fields, wrong types,
 * missing fields, oversized and malformed bodies, a wrong content type. On both engines.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { CloudApp } from '../src/app.js';
import { listFirmwareImages } from '../src/firmware/catalog.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { findVehicleOrder, saveVehicleOrder } from '../src/vehicles/orders.js';
import { ORDER_5GE, TEST_NOW, as, makeImage, testApp } from './helpers.js';

const GOOD = {
  model: 'MINI Cooper SE 3-door, corrected',
  market: 'DE',
  productionDate: '2024-03-12',
  optionCodes: ['5GE'],
};

describeEngines('bad input', (storage) => {
  let cloud: CloudApp;
  beforeAll(async () => {
    cloud = await testApp(storage(), { http: { bodyLimitBytes: 4096 } });
  });
  afterAll(async () => {
    await cloud.app.close();
  });
  beforeEach(async () => {
    await saveVehicleOrder(storage().db, ORDER_5GE, TEST_NOW);
  });
  const put = (payload: unknown, headers: Record<string, string> = {}) =>
    cloud.app.inject({
      method: 'PUT',
      url: `/v1/vehicles/${ORDER_5GE.vin}`,
      headers: { ...as('agent'), 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  const unchanged = async () =>
    expect(await findVehicleOrder(storage().db, ORDER_5GE.vin)).toEqual(ORDER_5GE);

  it('accepts the good body (so the refusals below are about the badness alone)', async () => {
    const response = await put(GOOD);
    expect(response.statusCode).toBe(200);
  });

  it('refuses an unknown field, naming it', async () => {
    const response = await put({ ...GOOD, colour: 'red' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        code: 'unknown-field',
        message: expect.stringContaining('body.colour'),
        details: [{ path: 'body.colour', message: 'unknown field "colour"' }],
      },
    });
    await unchanged();
  });

  it('refuses wrong types without coercing them, listing every problem', async () => {
    const response = await put({ ...GOOD, model: 42, optionCodes: '5GE' });
    expect(response.statusCode).toBe(400);
    const { error } = response.json();
    expect(error.code).toBe('invalid-request');
    expect(error.details).toEqual(
      expect.arrayContaining([
        { path: 'body.model', message: 'must be string' },
        { path: 'body.optionCodes', message: 'must be array' },
      ]),
    );
    expect(error.message).toMatch(
      /^body\.(model|optionCodes): must be (string|array) \(and 1 more problem, see details\)$/,
    );
    await unchanged();
  });

  it('refuses missing fields and values outside the schema', async () => {
    const { market: _market, ...withoutMarket } = GOOD;
    const missing = await put(withoutMarket);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.details).toEqual([
      { path: 'body.market', message: '"market" is missing' },
    ]);
    const badDate = await put({ ...GOOD, productionDate: '2024-02-30' });
    expect(badDate.statusCode).toBe(400);
    expect(badDate.json().error.details[0]).toMatchObject({ path: 'body.productionDate' });
    await unchanged();
  });

  it('refuses an oversized body with 413 before reading it', async () => {
    const response = await put({ ...GOOD, model: 'x'.repeat(5000) });
    expect(response.statusCode).toBe(413);
    expect(response.json().error).toEqual({
      code: 'payload-too-large',
      message: 'The request body is larger than this route accepts (4096 bytes at most).',
      details: [],
    });
    await unchanged();
  });

  it('refuses malformed JSON, an empty body and a wrong content type', async () => {
    const malformed = await put('{"model": ');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('malformed-json');
    const empty = await put('');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.code).toBe('malformed-json');
    const text = await put('model=x', { 'content-type': 'text/plain' });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported-media-type');
    await unchanged();
  });

  it('refuses prototype poisoning', async () => {
    const response = await put(`{"__proto__": {"admin": true}, ${JSON.stringify(GOOD).slice(1)}`);
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toHaveProperty('code');
    await unchanged();
  });

  it('stores nothing of an image upload that is not base64 or not an image', async () => {
    const publish = (image: string) =>
      cloud.app.inject({
        method: 'POST',
        url: '/v1/firmware',
        headers: as('agent'),
        payload: { image, releaseNotes: '' },
      });
    const notBase64 = await publish('this is not base64!');
    expect(notBase64.statusCode).toBe(400);
    expect(notBase64.json().error.details[0].path).toBe('body.image');
    const notImage = await publish(Buffer.from('hello').toString('base64'));
    expect(notImage.statusCode).toBe(422);
    expect(notImage.json().error.code).toBe('invalid-firmware-image');
    // The firmware route has its own, larger limit; the default one would have refused this.
    const image = await makeImage({ payload: 'y'.repeat(8000) });
    const big = await publish(Buffer.from(image).toString('base64'));
    expect(big.statusCode).toBe(201);
    expect(await listFirmwareImages(storage().db)).toHaveLength(1);
  });
});
