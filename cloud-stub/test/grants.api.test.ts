/**
 * Workshop grants on both engines, with real sign-ins at real stations: workshop test keys and
 * service authorizations verify with the module's own checks (shared-protocol trust), name the
 * module, the station key and only what was asked; owners of cars in use are told; the rate
 * limits per mechanic and per station count from the store, answer 429 with Retry-After, change
 * nothing and lift when the window passes; every issuance leaves one audit row; bad input is a
 * 400 that stores nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  CloudKeyRing,
  HolderRole,
  Permission,
  ServiceOperation,
  proveServiceAuthorization,
  verifyDigitalKey,
  verifyServiceAuthorization,
} from '@mini-sharing/shared-protocol/trust';
import { seedSigner } from '@mini-sharing/shared-protocol/crypto';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { buildApp, type CloudApp } from '../src/app.js';
import {
  GRANTS_PER_ACCOUNT_PER_WINDOW,
  GRANTS_PER_STATION_PER_WINDOW,
  GRANT_RATE_WINDOW_MS,
} from '../src/grants/rate-limit.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { ORDER_5GE, ORDER_NO_5GE, TEST_NOW, testConfig } from './helpers.js';
import {
  insertModuleRegistration,
  seedWorkshopWorld,
  signIn,
  type ApiClient,
  type PersonId,
  type WorkshopWorld,
} from './workshop-fixture.js';

const SERIAL = 'MSM-24-001234-3';
const OTHER_SERIAL = 'MSM-24-999001-2';
const MINUTE = 60_000;
const testKeyUrl = (serial = SERIAL) => `/v1/modules/${serial}/test-keys`;
const authorizationUrl = (serial = SERIAL) => `/v1/modules/${serial}/service-authorizations`;
const base64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

describeEngines('workshop grants', (storage) => {
  let cloud: CloudApp;
  let world: WorkshopWorld;
  let now: Date;

  beforeEach(async () => {
    now = TEST_NOW;
    world = await seedWorkshopWorld(storage(), now);
    cloud = await buildApp(testConfig(), { storage: storage(), logger: false, now: () => now });
  });
  afterEach(async () => {
    await cloud.app.close();
  });

  const as = (id: PersonId, options: { atStation?: boolean } = {}): Promise<ApiClient> =>
    signIn(cloud, world, id, { now: () => now, ...options });
  const later = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };
  const keyRing = async () =>
    (
      await CloudKeyRing.fromCertificates(
        cloud.context.keys.rootPublicKey,
        cloud.context.keys.moduleLinkCertificates(),
      )
    ).ring;
  /** What a refused request must leave as it was. */
  const stored = async () => {
    const { db } = storage();
    const count = async (table: 'workshop_grants' | 'owner_notifications' | 'audit_log') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      grants: await count('workshop_grants'),
      notifications: await count('owner_notifications'),
      audit: await count('audit_log'),
    };
  };
  const registered = (options: { readyToShare?: boolean; serial?: string; vin?: string } = {}) =>
    insertModuleRegistration(cloud, {
      serial: options.serial ?? SERIAL,
      vin: options.vin ?? ORDER_5GE.vin,
      readyToShare: options.readyToShare ?? false,
    });

  it('issues a test key the module accepts: this module, the station key, unlock and lock, the minutes asked', async () => {
    const registration = await registered();
    await storage()
      .db.updateTable('module_registrations')
      .set({ owner_generation: 3 })
      .where('id', '=', registration.id)
      .execute();
    const mechanic = await as('MEC-1');
    const response = await mechanic.request('POST', testKeyUrl(), { validForMinutes: 10 });
    expect(response.statusCode, response.body).toBe(201);
    const answer = response.json();
    const station = world.stations['DLR-1'];
    expect(answer).toMatchObject({
      moduleSerial: SERIAL,
      vin: ORDER_5GE.vin,
      permissions: ['unlock', 'lock'],
      notBefore: now.toISOString(),
      notAfter: new Date(now.getTime() + 10 * MINUTE).toISOString(),
      stationId: station.id,
      ownerNotified: false,
    });
    expect(answer.tokenId).toMatch(/^[0-9a-f]{32}$/);

    const ring = await keyRing();
    const check = (nowMs: number, ownerGeneration = 3, moduleSerial = SERIAL) =>
      verifyDigitalKey(base64(answer.token), {
        moduleSerial,
        keyRing: ring,
        nowMs,
        trustedTimeFloorMs: 0,
        ownerGeneration,
        isRevoked: () => false,
      });
    const verdict = await check(now.getTime() + MINUTE);
    expect(verdict.ok, verdict.ok ? '' : verdict.message).toBe(true);
    if (!verdict.ok) return;
    const key = verdict.value;
    expect(toHex(key.tokenId)).toBe(answer.tokenId);
    expect(key.role).toBe(HolderRole.WORKSHOP_TEST);
    expect(key.moduleSerial).toBe(SERIAL);
    expect(key.ownerGeneration).toBe(3);
    expect(toHex(key.devicePublicKey)).toBe(toHex(station.signer.publicKey));
    expect([...key.permissions].sort()).toEqual([Permission.UNLOCK, Permission.LOCK].sort());
    expect(key.bookingId).toBe('');
    expect(Number(key.notAfterMs - key.notBeforeMs)).toBe(10 * MINUTE);
    expect(Number(key.issuedAtMs)).toBe(now.getTime());

    // Only for this module, only for the minutes asked, dead after an owner change.
    expect(await check(now.getTime() + MINUTE, 3, OTHER_SERIAL)).toMatchObject({
      ok: false,
      reason: 'wrong-module',
    });
    expect(await check(now.getTime() + 10 * MINUTE + 1)).toMatchObject({
      ok: false,
      reason: 'expired',
    });
    expect(await check(now.getTime() + MINUTE, 4)).toMatchObject({
      ok: false,
      reason: 'stale-owner-generation',
    });

    const grants = await storage().db.selectFrom('workshop_grants').selectAll().execute();
    expect(grants).toEqual([
      {
        id: answer.tokenId,
        kind: 'test-key',
        registration_id: registration.id,
        serial: SERIAL,
        vin: ORDER_5GE.vin,
        account_id: 'MEC-1',
        dealer_id: 'DLR-1',
        station_id: station.id,
        scope: 'unlock,lock',
        issued_at: answer.notBefore,
        not_after: answer.notAfter,
      },
    ]);
  });

  it('refuses a validity of 0, 16 or "x" minutes, and unknown fields, with a 400 that stores nothing', async () => {
    await registered();
    const mechanic = await as('MEC-1');
    const before = await stored();
    for (const body of [
      { validForMinutes: 0 },
      { validForMinutes: 16 },
      { validForMinutes: 'x' },
      { validForMinutes: 2.5 },
      {},
      { validForMinutes: 5, permissions: ['drive'] },
    ]) {
      const response = await mechanic.request('POST', testKeyUrl(), body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().error.message).toMatch(/validForMinutes|permissions/);
    }
    for (const body of [
      { operations: ['flash'], validForMinutes: 31 },
      { operations: [], validForMinutes: 5 },
      { operations: ['flash', 'flash'], validForMinutes: 5 },
      { operations: ['unlock'], validForMinutes: 5 },
    ]) {
      const response = await mechanic.request('POST', authorizationUrl(), body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().error.code).toBe('invalid-request');
    }
    const typo = await mechanic.request('POST', testKeyUrl('MSM-24-001234-4'), {
      validForMinutes: 5,
    });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error.message).toMatch(/mistyped/);
    expect(await stored()).toEqual(before);
  });

  it('issues a service authorization the module accepts for that module, station and operations', async () => {
    await registered();
    const mechanic = await as('MEC-1');
    const response = await mechanic.request('POST', authorizationUrl(), {
      operations: ['actuating-self-test', 'flash'],
      validForMinutes: 20,
    });
    expect(response.statusCode, response.body).toBe(201);
    const answer = response.json();
    const station = world.stations['DLR-1'];
    expect(answer).toMatchObject({
      moduleSerial: SERIAL,
      vin: ORDER_5GE.vin,
      operations: ['flash', 'actuating-self-test'],
      notBefore: now.toISOString(),
      notAfter: new Date(now.getTime() + 20 * MINUTE).toISOString(),
      stationId: station.id,
      ownerNotified: false,
    });

    const ring = await keyRing();
    const authorization = base64(answer.authorization);
    const challenge = randomBytes(32);
    const verify = async (
      operation: ServiceOperation,
      options: { signer?: typeof station.signer; serial?: string; nowMs?: number } = {},
    ) =>
      verifyServiceAuthorization(
        await proveServiceAuthorization(
          options.signer ?? station.signer,
          authorization,
          challenge,
          options.serial ?? SERIAL,
        ),
        {
          moduleSerial: options.serial ?? SERIAL,
          operation,
          keyRing: ring,
          nowMs: options.nowMs ?? now.getTime() + MINUTE,
          challenge,
        },
      );
    const accepted = await verify(ServiceOperation.ACTUATING_SELF_TEST);
    expect(accepted.ok, accepted.ok ? '' : accepted.message).toBe(true);
    if (!accepted.ok) return;
    const body = accepted.value.authorization;
    expect(toHex(body.authorizationId)).toBe(answer.authorizationId);
    expect(body.moduleSerial).toBe(SERIAL);
    expect(toHex(body.stationPublicKey)).toBe(toHex(station.signer.publicKey));
    expect(body.operations).toEqual([ServiceOperation.FLASH, ServiceOperation.ACTUATING_SELF_TEST]);
    expect(body.dealerId).toBe('DLR-1');
    expect(body.mechanicId).toBe('MEC-1');
    expect(body.validForMs).toBe(20 * MINUTE);
    expect((await verify(ServiceOperation.FLASH)).ok).toBe(true);

    expect(await verify(ServiceOperation.FACTORY_RESET)).toMatchObject({
      ok: false,
      reason: 'operation-not-allowed',
    });
    // Another station's key (the other dealer's) cannot use it.
    expect(
      await verify(ServiceOperation.FLASH, { signer: world.stations['DLR-2'].signer }),
    ).toMatchObject({ ok: false, reason: 'bad-station-signature' });
    expect(
      await verify(ServiceOperation.FLASH, { signer: seedSigner(testSeed('a laptop')) }),
    ).toMatchObject({ ok: false, reason: 'bad-station-signature' });
    expect(await verify(ServiceOperation.FLASH, { serial: OTHER_SERIAL })).toMatchObject({
      ok: false,
      reason: 'wrong-module',
    });
    expect(
      await verify(ServiceOperation.FLASH, { nowMs: now.getTime() + 20 * MINUTE + 1 }),
    ).toMatchObject({ ok: false, reason: 'expired' });

    const [grant] = await storage().db.selectFrom('workshop_grants').selectAll().execute();
    expect(grant).toMatchObject({
      id: answer.authorizationId,
      kind: 'service-authorization',
      scope: 'flash,actuating-self-test',
      account_id: 'MEC-1',
      station_id: station.id,
    });
  });

  it('authorizes service of a decommissioned module; a test key needs an active one; an unknown serial is 404', async () => {
    const registration = await registered();
    await storage()
      .db.updateTable('module_registrations')
      .set({
        status: 'decommissioned',
        decommissioned_at: now.toISOString(),
        decommissioned_by: 'ADM-1',
        decommission_reason: 'replaced',
      })
      .where('id', '=', registration.id)
      .execute();
    const mechanic = await as('MEC-1');
    const reset = await mechanic.request('POST', authorizationUrl(), {
      operations: ['factory-reset', 'provision'],
      validForMinutes: 10,
    });
    expect(reset.statusCode, reset.body).toBe(201);
    expect(reset.json()).toMatchObject({ moduleSerial: SERIAL, ownerNotified: false });

    const before = await stored();
    const testKey = await mechanic.request('POST', testKeyUrl(), { validForMinutes: 5 });
    expect(testKey.statusCode).toBe(404);
    expect(testKey.json().error.message).toContain(`Module ${SERIAL} is not registered`);
    for (const url of [testKeyUrl(OTHER_SERIAL), authorizationUrl(OTHER_SERIAL)]) {
      const unknown = await mechanic.request(
        'POST',
        url,
        url.endsWith('test-keys')
          ? { validForMinutes: 5 }
          : { operations: ['flash'], validForMinutes: 5 },
      );
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error).toMatchObject({ code: 'not-found' });
      expect(unknown.json().error.message).toContain(OTHER_SERIAL);
    }
    expect(await stored()).toEqual(before);
  });

  it('tells the owner of a car in use, once per grant, and nobody while the module is being installed', async () => {
    await registered({ readyToShare: true });
    await registered({ serial: OTHER_SERIAL, vin: ORDER_NO_5GE.vin, readyToShare: false });
    // Any dealer may service any car: a mechanic of the other dealer.
    const mechanic = await as('MEC-2');
    const key = await mechanic.request('POST', testKeyUrl(), { validForMinutes: 15 });
    expect(key.statusCode, key.body).toBe(201);
    expect(key.json().ownerNotified).toBe(true);
    const service = await mechanic.request('POST', authorizationUrl(), {
      operations: ['clear-faults', 'actuating-self-test'],
      validForMinutes: 30,
    });
    expect(service.json().ownerNotified).toBe(true);
    const installing = await mechanic.request('POST', authorizationUrl(OTHER_SERIAL), {
      operations: ['flash', 'provision'],
      validForMinutes: 30,
    });
    expect(installing.statusCode).toBe(201);
    expect(installing.json().ownerNotified).toBe(false);
    const installingKey = await mechanic.request('POST', testKeyUrl(OTHER_SERIAL), {
      validForMinutes: 5,
    });
    expect(installingKey.json().ownerNotified).toBe(false);

    const notifications = await storage()
      .db.selectFrom('owner_notifications')
      .selectAll()
      .orderBy('kind', 'desc')
      .execute();
    expect(notifications.map((n) => [n.vin, n.serial, n.kind])).toEqual([
      [ORDER_5GE.vin, SERIAL, 'workshop-test-key'],
      [ORDER_5GE.vin, SERIAL, 'service-authorization'],
    ]);
    const [keyNotice, serviceNotice] = notifications;
    expect(keyNotice!.message).toContain('MINI Two (workshop station "Bay 1")');
    expect(keyNotice!.message).toContain('unlock and lock');
    expect(keyNotice!.message).toContain('until 1 June 2026, 12:15 UTC');
    expect(keyNotice!.message).toContain('contact the MINI Sharing call centre');
    expect(serviceNotice!.message).toContain('clear stored fault codes');
    expect(serviceNotice!.message).toContain('central locking');
    expect(serviceNotice!.message).toContain('until 1 June 2026, 12:30 UTC');
    expect(JSON.parse(keyNotice!.details)).toMatchObject({
      grantId: key.json().tokenId,
      dealerId: 'DLR-2',
      dealerName: 'MINI Two',
      stationId: world.stations['DLR-2'].id,
      scope: ['unlock', 'lock'],
      notAfter: key.json().notAfter,
    });
    expect(keyNotice!.account_id).toBeNull();
    expect(keyNotice!.read_at).toBeNull();
  });

  it('writes one audit row per issuance with the actor, dealer, station and module', async () => {
    await registered({ readyToShare: true });
    const mechanic = await as('MEC-1');
    const key = (await mechanic.request('POST', testKeyUrl(), { validForMinutes: 3 })).json();
    const admin = await as('ADM-2', { atStation: true });
    const service = (
      await admin.request('POST', authorizationUrl(), {
        operations: ['flash'],
        validForMinutes: 7,
      })
    ).json();
    const rows = await storage().db.selectFrom('audit_log').selectAll().orderBy('action').execute();
    expect(rows).toHaveLength(2);
    const [serviceRow, keyRow] = rows;
    expect(keyRow).toMatchObject({
      action: 'grant.test-key',
      account_id: 'MEC-1',
      role: 'mechanic',
      dealer_id: 'DLR-1',
      station_id: world.stations['DLR-1'].id,
      serial: SERIAL,
      vin: ORDER_5GE.vin,
      at: now.toISOString(),
    });
    expect(JSON.parse(keyRow!.details)).toMatchObject({
      grantId: key.tokenId,
      validForMinutes: 3,
      scope: ['unlock', 'lock'],
      ownerNotified: true,
      notAfter: key.notAfter,
    });
    expect(serviceRow).toMatchObject({
      action: 'grant.service-authorization',
      account_id: 'ADM-2',
      role: 'dealer-admin',
      dealer_id: 'DLR-2',
      station_id: world.stations['DLR-2'].id,
      serial: SERIAL,
    });
    expect(JSON.parse(serviceRow!.details)).toMatchObject({
      grantId: service.authorizationId,
      validForMinutes: 7,
      scope: ['flash'],
      ownerNotified: true,
    });
  });

  it('issues to a dealer admin at a station, and to nobody without a station session', async () => {
    await registered();
    const admin = await as('ADM-1', { atStation: true });
    const atStation = await admin.request('POST', testKeyUrl(), { validForMinutes: 5 });
    expect(atStation.statusCode, atStation.body).toBe(201);
    expect(atStation.json().stationId).toBe(world.stations['DLR-1'].id);

    const before = await stored();
    const portal = await as('ADM-1');
    for (const [url, body] of [
      [testKeyUrl(), { validForMinutes: 5 }],
      [authorizationUrl(), { operations: ['flash'], validForMinutes: 5 }],
    ] as const) {
      const response = await portal.request('POST', url, body);
      expect(response.statusCode).toBe(403);
      expect(response.json().error.message).toMatch(
        /only at a workshop station: sign in at an approved workshop station/,
      );
    }
    for (const id of ['CUS-1', 'AGT-1'] as const) {
      const client = await as(id);
      const response = await client.request('POST', testKeyUrl(), { validForMinutes: 5 });
      expect(response.statusCode).toBe(403);
    }
    expect(await stored()).toEqual(before);
  });

  it('limits grants per mechanic over a trailing hour: 429 with Retry-After, nothing changed, lifted when the window passes', async () => {
    await registered();
    const mechanic = await as('MEC-1');
    const start = now.getTime();
    const first = await mechanic.request('POST', testKeyUrl(), { validForMinutes: 5 });
    expect(first.statusCode).toBe(201);
    later(10 * MINUTE);
    for (let i = 1; i < GRANTS_PER_ACCOUNT_PER_WINDOW; i += 1) {
      const response = await mechanic.request(
        'POST',
        i % 2 === 0 ? testKeyUrl() : authorizationUrl(),
        i % 2 === 0 ? { validForMinutes: 5 } : { operations: ['flash'], validForMinutes: 5 },
      );
      expect(response.statusCode, response.body).toBe(201);
    }
    later(10 * MINUTE);
    const before = await stored();
    const refused = await mechanic.request('POST', authorizationUrl(), {
      operations: ['flash'],
      validForMinutes: 5,
    });
    expect(refused.statusCode).toBe(429);
    // The first grant leaves the window 60 minutes after it was issued: 40 minutes from now.
    expect(refused.headers['retry-after']).toBe(String(40 * 60));
    expect(refused.json().error).toMatchObject({ code: 'rate-limited' });
    expect(refused.json().error.message).toContain(
      `You have been issued ${GRANTS_PER_ACCOUNT_PER_WINDOW} workshop test keys and service authorizations in the last 60 minutes`,
    );
    expect(refused.json().error.message).toContain(
      'ask again in 40 minutes (at 1 June 2026, 13:00 UTC)',
    );
    expect(await stored()).toEqual(before);

    // Another mechanic's limit is their own (the station is far from its limit).
    const admin = await as('ADM-1', { atStation: true });
    expect((await admin.request('POST', testKeyUrl(), { validForMinutes: 5 })).statusCode).toBe(
      201,
    );

    // One second short of the hour: still refused, for one second.
    now = new Date(start + GRANT_RATE_WINDOW_MS - 1000);
    const almost = await mechanic.request('POST', testKeyUrl(), { validForMinutes: 5 });
    expect(almost.statusCode).toBe(429);
    expect(almost.headers['retry-after']).toBe('1');
    now = new Date(start + GRANT_RATE_WINDOW_MS);
    const lifted = await mechanic.request('POST', testKeyUrl(), { validForMinutes: 5 });
    expect(lifted.statusCode, lifted.body).toBe(201);
    // Full again until the grants of start + 10 minutes leave.
    const full = await mechanic.request('POST', testKeyUrl(), { validForMinutes: 5 });
    expect(full.statusCode).toBe(429);
    expect(full.headers['retry-after']).toBe(String(10 * 60));
  });

  it('limits grants per station, whoever asks, counted from the store', async () => {
    const registration = await registered();
    const station = world.stations['DLR-1'];
    // Earlier grants at this station by other mechanics (another cloud instance, before a restart).
    const { db } = storage();
    for (let i = 0; i < GRANTS_PER_STATION_PER_WINDOW; i += 1) {
      const issuedAt = new Date(now.getTime() - 50 * MINUTE + i * 1000);
      await db
        .insertInto('workshop_grants')
        .values({
          id: toHex(randomBytes(16)),
          kind: 'test-key',
          registration_id: registration.id,
          serial: SERIAL,
          vin: ORDER_5GE.vin,
          account_id: `MEC-X${i % 3}`,
          dealer_id: 'DLR-1',
          station_id: station.id,
          scope: 'unlock,lock',
          issued_at: issuedAt.toISOString(),
          not_after: new Date(issuedAt.getTime() + 5 * MINUTE).toISOString(),
        })
        .execute();
    }
    const before = await stored();
    for (const id of ['MEC-1', 'ADM-1'] as const) {
      const client = await as(id, { atStation: true });
      const refused = await client.request('POST', testKeyUrl(), { validForMinutes: 5 });
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe(String(10 * 60));
      expect(refused.json().error.message).toContain(
        `This workshop station has been issued ${GRANTS_PER_STATION_PER_WINDOW}`,
      );
    }
    expect(await stored()).toEqual(before);
    // Another station is not affected.
    const elsewhere = await as('MEC-2');
    expect((await elsewhere.request('POST', testKeyUrl(), { validForMinutes: 5 })).statusCode).toBe(
      201,
    );
    later(10 * MINUTE);
    const mechanic = await as('MEC-1');
    expect((await mechanic.request('POST', testKeyUrl(), { validForMinutes: 5 })).statusCode).toBe(
      201,
    );
  });

  it('holds the limit exactly under a concurrent burst', async () => {
    await registered();
    const mechanic = await as('MEC-1');
    const burst = GRANTS_PER_ACCOUNT_PER_WINDOW + 6;
    const responses = await Promise.all(
      Array.from({ length: burst }, () =>
        mechanic.request('POST', testKeyUrl(), { validForMinutes: 5 }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 201)).toHaveLength(GRANTS_PER_ACCOUNT_PER_WINDOW);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
    expect(await stored()).toEqual({
      grants: GRANTS_PER_ACCOUNT_PER_WINDOW,
      notifications: 0,
      audit: GRANTS_PER_ACCOUNT_PER_WINDOW,
    });
  });
});
