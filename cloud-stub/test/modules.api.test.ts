/**
 * Module registration at the provisioning step and decommissioning, over HTTP with real sign-ins
 * at workshop stations, on both engines. Proofs are made as a module makes them: its identity
 * key signs provisioningNonceInput(nonce, serial).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { fromHex, toHex, type Signer } from '@mini-sharing/shared-protocol/crypto';
import {
  CloudKeyRing,
  provisioningNonceInput,
  verifyModuleCertificate,
  verifyModuleLinkSettings,
} from '@mini-sharing/shared-protocol/trust';
import { formatModuleSerial } from '@mini-sharing/shared-protocol/vehicle';
import { buildApp, type CloudApp } from '../src/app.js';
import { verifyModulePassword } from '../src/keys/module-credentials.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { saveVehicleOrder } from '../src/vehicles/orders.js';
import { ORDER_5GE, ORDER_NO_5GE, TEST_NOW, testConfig } from './helpers.js';
import {
  moduleIdentity,
  seedWorkshopWorld,
  signIn,
  type ApiClient,
  type WorkshopWorld,
} from './workshop-fixture.js';

const SERIAL_A = formatModuleSerial({ year: 24, sequence: 1234 });
const SERIAL_B = formatModuleSerial({ year: 24, sequence: 1235 });
/** A second 5GE car. */
const ORDER_5GE_2 = { ...ORDER_5GE, vin: 'WMW31DH0302S71647' };

const NONCES = '/v1/modules/registration-nonces';
const decommission = (serial: string) => `/v1/modules/${serial}/decommission`;

interface Provisioning {
  serial: string;
  vin: string;
  identity: Signer;
  nonce: string;
  body: Record<string, string>;
}

describeEngines('modules API', (storage) => {
  let cloud: CloudApp;
  let world: WorkshopWorld;
  let now: Date;
  const clock = () => now;

  beforeAll(async () => {
    now = TEST_NOW;
    cloud = await buildApp(testConfig({ auth: {} }), {
      storage: storage(),
      logger: false,
      now: clock,
    });
  });
  afterAll(async () => {
    await cloud.app.close();
  });
  beforeEach(async () => {
    now = TEST_NOW;
    world = await seedWorkshopWorld(storage(), now);
    await saveVehicleOrder(storage().db, ORDER_5GE_2, now);
  });

  const mechanic = (id: 'MEC-1' | 'MEC-2' = 'MEC-1') => signIn(cloud, world, id, { now: clock });

  async function newNonce(client: ApiClient): Promise<string> {
    const response = await client.request('POST', NONCES);
    expect(response.statusCode, response.body).toBe(201);
    return response.json().nonce as string;
  }

  /** What the module answers at ProvisionBegin, as the app sends it to registerModule. */
  async function provision(
    client: ApiClient,
    module: { serial?: string; vin?: string; identity?: Signer; nonce?: string } = {},
  ): Promise<Provisioning> {
    const serial = module.serial ?? SERIAL_A;
    const vin = module.vin ?? ORDER_5GE.vin;
    const identity = module.identity ?? moduleIdentity(serial);
    const nonce = module.nonce ?? (await newNonce(client));
    const signature = await identity.sign(provisioningNonceInput(fromHex(nonce), serial));
    return {
      serial,
      vin,
      identity,
      nonce,
      body: {
        moduleSerial: serial,
        vin,
        hardwareRevision: 'HW-C',
        firmwareVersion: '1.1.0',
        identityPublicKey: toHex(identity.publicKey),
        nonce,
        nonceSignature: toHex(signature),
      },
    };
  }

  const register = (client: ApiClient, body: object) => client.request('POST', '/v1/modules', body);

  /** Everything registration may change. */
  async function snapshot(db = storage().db) {
    return {
      registrations: await db
        .selectFrom('module_registrations')
        .selectAll()
        .orderBy('id')
        .execute(),
      nonces: await db.selectFrom('registration_nonces').selectAll().orderBy('nonce').execute(),
      audit: await db
        .selectFrom('audit_log')
        .select(['action', 'serial', 'vin', 'account_id'])
        .orderBy('at')
        .orderBy('action')
        .execute(),
    };
  }

  function expectError(response: LightMyRequestResponse, status: number, code: string) {
    expect(response.statusCode, response.body).toBe(status);
    expect(response.json().error.code).toBe(code);
    return response.json().error as { message: string; details: { path: string }[] };
  }

  const decodeBase64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

  it('issues a nonce for 10 minutes, stored with the account and the station', async () => {
    const client = await mechanic();
    const response = await client.request('POST', NONCES);
    expect(response.statusCode, response.body).toBe(201);
    const { nonce, expiresAt } = response.json();
    expect(nonce).toMatch(/^[0-9a-f]{64}$/);
    expect(expiresAt).toBe(new Date(TEST_NOW.getTime() + 10 * 60_000).toISOString());
    const row = await storage()
      .db.selectFrom('registration_nonces')
      .selectAll()
      .where('nonce', '=', nonce)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      account_id: 'MEC-1',
      station_id: world.stations['DLR-1'].id,
      used_at: null,
    });
    expect(await newNonce(client)).not.toBe(nonce);
  });

  it('registers a module: certificate, settings and credentials that verify', async () => {
    const client = await mechanic();
    const p = await provision(client);
    const response = await register(client, p.body);
    expect(response.statusCode, response.body).toBe(201);
    const answer = response.json();
    expect(answer.module).toEqual({
      id: expect.stringMatching(/^REG-/),
      moduleSerial: SERIAL_A,
      vin: ORDER_5GE.vin,
      hardwareRevision: 'HW-C',
      firmwareVersion: '1.1.0',
      identityPublicKey: toHex(p.identity.publicKey),
      status: 'active',
      dealerId: 'DLR-1',
      mechanicId: 'MEC-1',
      stationId: world.stations['DLR-1'].id,
      registeredAt: TEST_NOW.toISOString(),
      readyToShareAt: null,
      decommissionedAt: null,
    });
    expect(answer.brokerUrl).toBe(cloud.context.moduleLinkEndpoint.brokerUrl);

    // The settings verify under the development root the module pins.
    const rootPublicKey = cloud.context.keys.rootPublicKey;
    const settings = await verifyModuleLinkSettings(decodeBase64(answer.moduleLinkSettings), {
      moduleSerial: SERIAL_A,
      rootPublicKey,
    });
    if (!settings.ok) throw new Error(settings.message);
    const link = settings.value.settings;
    expect(link).toMatchObject({
      brokerUrl: answer.brokerUrl,
      clientId: SERIAL_A,
      username: SERIAL_A,
    });
    expect(link.cloudSigningKeys.map((k) => Buffer.from(k).toString('base64'))).toEqual(
      answer.cloudSigningKeys,
    );

    // The certificate verifies with the keys the settings carry and names serial, key and VIN.
    const { ring } = await CloudKeyRing.fromCertificates(rootPublicKey, link.cloudSigningKeys);
    const certificate = await verifyModuleCertificate(decodeBase64(answer.moduleCertificate), {
      keyRing: ring,
      moduleSerial: SERIAL_A,
      modulePublicKey: p.identity.publicKey,
      vin: ORDER_5GE.vin,
    });
    expect(certificate.ok, certificate.ok ? '' : certificate.message).toBe(true);

    // Stored: the certificate, the advertising secret, only a hash of the password.
    const row = await storage()
      .db.selectFrom('module_registrations')
      .selectAll()
      .where('serial', '=', SERIAL_A)
      .executeTakeFirstOrThrow();
    expect(new Uint8Array(row.certificate)).toEqual(decodeBase64(answer.moduleCertificate));
    expect(new Uint8Array(row.advertising_secret)).toEqual(link.advertisingSecret);
    expect(row.mqtt_password_hash).not.toContain(link.password);
    expect(await verifyModulePassword(link.password, row.mqtt_password_hash)).toBe(true);

    const nonce = await storage()
      .db.selectFrom('registration_nonces')
      .selectAll()
      .where('nonce', '=', p.nonce)
      .executeTakeFirstOrThrow();
    expect(nonce).toMatchObject({ used_at: TEST_NOW.toISOString(), used_for_serial: SERIAL_A });
    const audit = await storage()
      .db.selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'module.register')
      .execute();
    expect(audit).toMatchObject([
      {
        account_id: 'MEC-1',
        dealer_id: 'DLR-1',
        station_id: world.stations['DLR-1'].id,
        serial: SERIAL_A,
        vin: ORDER_5GE.vin,
      },
    ]);
  });

  it('takes the serial and VIN as typed and stores their canonical forms', async () => {
    const client = await mechanic();
    const p = await provision(client);
    const response = await register(client, {
      ...p.body,
      moduleSerial: SERIAL_A.toLowerCase().replace(/-/g, ''),
      vin: ` ${ORDER_5GE.vin.toLowerCase()} `,
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().module).toMatchObject({ moduleSerial: SERIAL_A, vin: ORDER_5GE.vin });
  });

  it('lets a dealer admin register at a station', async () => {
    const admin = await signIn(cloud, world, 'ADM-1', { now: clock, atStation: true });
    const response = await register(admin, (await provision(admin)).body);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().module).toMatchObject({ dealerId: 'DLR-1', mechanicId: 'ADM-1' });
  });

  it('answers a repeat with the same record and certificate and new MQTT credentials', async () => {
    const client = await mechanic();
    const p = await provision(client);
    const first = (await register(client, p.body)).json();
    const firstRow = (await snapshot()).registrations[0]!;

    // The app retries after a lost answer: the same request, nonce already used.
    const again = await register(client, p.body);
    expect(again.statusCode, again.body).toBe(200);
    const second = again.json();
    expect(second.module).toEqual(first.module);
    expect(second.moduleCertificate).toBe(first.moduleCertificate);
    const decode = async (settings: string) => {
      const verdict = await verifyModuleLinkSettings(decodeBase64(settings), {
        moduleSerial: SERIAL_A,
        rootPublicKey: cloud.context.keys.rootPublicKey,
      });
      if (!verdict.ok) throw new Error(verdict.message);
      return verdict.value.settings;
    };
    const [firstLink, secondLink] = [
      await decode(first.moduleLinkSettings),
      await decode(second.moduleLinkSettings),
    ];
    expect(secondLink.advertisingSecret).toEqual(firstLink.advertisingSecret);
    expect(secondLink.password).not.toBe(firstLink.password);
    const row = (await snapshot()).registrations[0]!;
    expect(await verifyModulePassword(secondLink.password, row.mqtt_password_hash)).toBe(true);
    expect(await verifyModulePassword(firstLink.password, row.mqtt_password_hash)).toBe(false);
    expect({ ...row, mqtt_password_hash: '' }).toEqual({ ...firstRow, mqtt_password_hash: '' });

    // Later, with a fresh nonce signed by the same key: a repeat too, and the nonce is used.
    now = new Date(TEST_NOW.getTime() + 20 * 60_000);
    const fresh = await provision(client, { identity: p.identity });
    const third = await register(client, fresh.body);
    expect(third.statusCode, third.body).toBe(200);
    expect(third.json().module).toEqual(first.module);
    const { nonces, audit, registrations } = await snapshot();
    expect(registrations).toHaveLength(1);
    expect(nonces.find((n) => n.nonce === fresh.nonce)?.used_for_serial).toBe(SERIAL_A);
    expect(audit.map((a) => a.action).sort()).toEqual([
      'module.register',
      'module.register-repeat',
      'module.register-repeat',
      'module.registration-nonce',
      'module.registration-nonce',
    ]);
  });

  it('refuses another identity key for a registered serial (409) and changes nothing', async () => {
    const client = await mechanic();
    await register(client, (await provision(client)).body);
    const other = await provision(client, { identity: moduleIdentity('re-provisioned') });
    const before = await snapshot();
    const error = expectError(await register(client, other.body), 409, 'conflict');
    expect(error.message).toContain('another identity key');
    expect(error.message).toContain(ORDER_5GE.vin);
    expect(error.message).toContain(TEST_NOW.toISOString());
    expect(error.message).toContain(`POST /v1/modules/${SERIAL_A}/decommission`);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses the same module reporting another car (409)', async () => {
    const client = await mechanic();
    const p = await provision(client);
    await register(client, p.body);
    const moved = await provision(client, { identity: p.identity, vin: ORDER_5GE_2.vin });
    const before = await snapshot();
    const error = expectError(await register(client, moved.body), 409, 'conflict');
    expect(error.message).toContain(`registered to another car, VIN ${ORDER_5GE.vin}`);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a second module for a car (409) and changes nothing', async () => {
    const client = await mechanic();
    await register(client, (await provision(client)).body);
    const second = await provision(client, { serial: SERIAL_B });
    const before = await snapshot();
    const error = expectError(await register(client, second.body), 409, 'conflict');
    expect(error.message).toContain(
      `VIN ${ORDER_5GE.vin} already has a sharing module, ${SERIAL_A}`,
    );
    expect(error.message).toContain('decommission');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses cars that may not get a module, and VINs that are not VINs', async () => {
    const client = await mechanic();
    const cases = [
      { vin: ORDER_NO_5GE.vin, status: 422, code: 'not-eligible', words: /5GE/ },
      { vin: 'WMW31DH0302S71660', status: 404, code: 'not-found', words: /No vehicle order/ },
      { vin: 'WMW31DH0302SI1642', status: 400, code: 'invalid-vin', words: /Character 13/ },
    ];
    for (const { vin, status, code, words } of cases) {
      const p = await provision(client, { vin });
      const before = await snapshot();
      const error = expectError(await register(client, p.body), status, code);
      expect(error.message).toMatch(words);
      if (code === 'not-eligible') {
        expect(error.details[0]).toMatchObject({ path: 'body.vin' });
      }
      expect(await snapshot(), vin).toEqual(before);
    }
  });

  it('refuses bad bodies with 400 and changes nothing', async () => {
    const client = await mechanic();
    const p = await provision(client);
    const before = await snapshot();
    const cases: [object, string, RegExp][] = [
      [{ ...p.body, comment: 'x' }, 'unknown-field', /body.comment/],
      [{ ...p.body, moduleSerial: 'MSM-24-001234-4' }, 'invalid-request', /mistyped/],
      [{ ...p.body, moduleSerial: 'ABC' }, 'invalid-request', /not a module serial/],
      [{ ...p.body, hardwareRevision: 'HW-A' }, 'invalid-request', /HW-A cannot be registered/],
      [{ ...p.body, hardwareRevision: 'HW-Z' }, 'invalid-request', /hardwareRevision/],
      [{ ...p.body, firmwareVersion: 'latest' }, 'invalid-request', /firmwareVersion/],
      [{ ...p.body, identityPublicKey: 'AB'.repeat(32) }, 'invalid-request', /identityPublicKey/],
      [{ ...p.body, nonceSignature: '00' }, 'invalid-request', /nonceSignature/],
      [{ ...p.body, moduleSerial: 'M'.repeat(100) }, 'invalid-request', /moduleSerial/],
    ];
    for (const [body, code, words] of cases) {
      const error = expectError(await register(client, body), 400, code);
      expect(error.message, JSON.stringify(body).slice(0, 80)).toMatch(words);
    }
    const tooLarge = await register(client, { ...p.body, moduleSerial: 'M'.repeat(5000) });
    expectError(tooLarge, 413, 'payload-too-large');
    expect(await snapshot()).toEqual(before);
  });

  describe('proofs', () => {
    it('refuses an expired nonce', async () => {
      const client = await mechanic();
      const p = await provision(client);
      now = new Date(TEST_NOW.getTime() + 10 * 60_000 + 1);
      const before = await snapshot();
      const error = expectError(await register(client, p.body), 422, 'invalid-proof');
      expect(error.message).toMatch(/expired.*Re-run provisioning from the start/);
      expect(await snapshot()).toEqual(before);
    });

    it("refuses another station's nonce", async () => {
      const here = await mechanic('MEC-1');
      const there = await mechanic('MEC-2');
      const p = await provision(here, { nonce: await newNonce(there) });
      const before = await snapshot();
      const error = expectError(await register(here, p.body), 422, 'invalid-proof');
      expect(error.message).toContain('another workshop station');
      expect(await snapshot()).toEqual(before);
    });

    it('refuses a nonce used for another module, and one the cloud never issued', async () => {
      const client = await mechanic();
      const first = await provision(client);
      expect((await register(client, first.body)).statusCode).toBe(201);
      const reused = await provision(client, {
        serial: SERIAL_B,
        vin: ORDER_5GE_2.vin,
        nonce: first.nonce,
      });
      const invented = await provision(client, {
        serial: SERIAL_B,
        vin: ORDER_5GE_2.vin,
        nonce: 'ab'.repeat(32),
      });
      const before = await snapshot();
      const error = expectError(await register(client, reused.body), 422, 'invalid-proof');
      expect(error.message).toContain(
        `already used at ${TEST_NOW.toISOString()} for module ${SERIAL_A}`,
      );
      const unknown = expectError(await register(client, invented.body), 422, 'invalid-proof');
      expect(unknown.message).toContain('did not issue this nonce');
      expect(await snapshot()).toEqual(before);
    });

    it('refuses a signature that does not prove the key', async () => {
      const client = await mechanic();
      const p = await provision(client);
      const forged = await moduleIdentity('somebody else').sign(
        provisioningNonceInput(fromHex(p.nonce), SERIAL_A),
      );
      const overOtherSerial = await p.identity.sign(
        provisioningNonceInput(fromHex(p.nonce), SERIAL_B),
      );
      const before = await snapshot();
      for (const signature of [forged, overOtherSerial]) {
        const error = expectError(
          await register(client, { ...p.body, nonceSignature: toHex(signature) }),
          422,
          'invalid-proof',
        );
        expect(error.message).toMatch(
          /could not prove it holds the identity key.*Re-run provisioning from the start/,
        );
      }
      expect(await snapshot()).toEqual(before);
    });
  });

  it('is only for sessions at a workshop station (403)', async () => {
    const admin = await signIn(cloud, world, 'ADM-1', { now: clock });
    const mechanicClient = await mechanic();
    const p = await provision(mechanicClient);
    const before = await snapshot();
    for (const response of [
      await admin.request('POST', NONCES),
      await register(admin, p.body),
      await register(admin, {}),
    ]) {
      const error = expectError(response, 403, 'forbidden');
      expect(error.message).toContain('sign in at an approved workshop station');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('registers exactly one of two concurrent registrations of a serial', async () => {
    const client = await mechanic();
    const one = await provision(client, { identity: moduleIdentity('first') });
    const two = await provision(client, { identity: moduleIdentity('second') });
    const answers = await Promise.all([register(client, one.body), register(client, two.body)]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 409]);
    const refused = answers.find((a) => a.statusCode === 409)!;
    expect(refused.json().error.message).toContain('another identity key');
    const { registrations, nonces, audit } = await snapshot();
    expect(registrations).toHaveLength(1);
    expect(nonces.filter((n) => n.used_at !== null)).toHaveLength(1);
    expect(audit.filter((a) => a.action === 'module.register')).toHaveLength(1);
  });

  describe('decommissioning', () => {
    it('ends the registration; the serial (new key) and the car register again', async () => {
      const client = await mechanic();
      const first = await register(client, (await provision(client)).body);
      expect(first.statusCode).toBe(201);

      // Any dealer's admin may (any dealer may service any car).
      const admin = await signIn(cloud, world, 'ADM-2', { now: clock });
      now = new Date(TEST_NOW.getTime() + 60_000);
      const response = await admin.request('POST', decommission(SERIAL_A), {
        reason: 'module replaced: no LTE after water damage',
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual({
        ...first.json().module,
        status: 'decommissioned',
        decommissionedAt: now.toISOString(),
      });
      const row = (await snapshot()).registrations[0]!;
      expect(row).toMatchObject({
        decommissioned_by: 'ADM-2',
        decommission_reason: 'module replaced: no LTE after water damage',
      });
      const audit = await storage()
        .db.selectFrom('audit_log')
        .selectAll()
        .where('action', '=', 'module.decommission')
        .execute();
      expect(audit).toMatchObject([{ account_id: 'ADM-2', dealer_id: 'DLR-2', serial: SERIAL_A }]);

      // Twice: nothing active any more.
      expectError(
        await admin.request('POST', decommission(SERIAL_A), { reason: 'again' }),
        404,
        'not-found',
      );

      // The same module, re-provisioned with a new key, registers normally.
      const again = await provision(client, { identity: moduleIdentity('new key') });
      const reRegistered = await register(client, again.body);
      expect(reRegistered.statusCode, reRegistered.body).toBe(201);
      expect(reRegistered.json().module.id).not.toBe(first.json().module.id);

      // And after that one goes, another module takes the car.
      expect(
        (await admin.request('POST', decommission(SERIAL_A), { reason: 'moved' })).statusCode,
      ).toBe(200);
      const replacement = await register(
        client,
        (await provision(client, { serial: SERIAL_B })).body,
      );
      expect(replacement.statusCode, replacement.body).toBe(201);
      expect((await snapshot()).registrations).toHaveLength(3);
    });

    it('is for dealer admins, with a reason, for a registered serial', async () => {
      const client = await mechanic();
      await register(client, (await provision(client)).body);
      const admin = await signIn(cloud, world, 'ADM-1', { now: clock });
      const before = await snapshot();
      expectError(
        await client.request('POST', decommission(SERIAL_A), { reason: 'x' }),
        403,
        'forbidden',
      );
      for (const reason of ['', '   ', 'x'.repeat(501)]) {
        expectError(
          await admin.request('POST', decommission(SERIAL_A), { reason }),
          400,
          'invalid-request',
        );
      }
      expectError(await admin.request('POST', decommission(SERIAL_A), {}), 400, 'invalid-request');
      expectError(
        await admin.request('POST', decommission(SERIAL_A), { reason: 'x', force: true }),
        400,
        'unknown-field',
      );
      const bad = expectError(
        await admin.request('POST', decommission('MSM-24-001234-4'), { reason: 'x' }),
        400,
        'invalid-request',
      );
      expect(bad.message).toContain('mistyped');
      const unknown = expectError(
        await admin.request('POST', decommission(SERIAL_B), { reason: 'x' }),
        404,
        'not-found',
      );
      expect(unknown.message).toContain(SERIAL_B);
      expect(await snapshot()).toEqual(before);
    });
  });
});
