/**
 * Workshop stations on both engines: a station registers its key (proving it holds it), the
 * dealer admin approves it, mechanics of that dealer sign in there and nowhere else, and every
 * request of a station session must be signed by the station key (no replays, no stale clocks,
 * no other body, path or key).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { signStationRequest, stationRegistrationMessage } from '@mini-sharing/shared-protocol/api';
import { seedSigner, toHex, utf8, type Signer } from '@mini-sharing/shared-protocol/crypto';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { buildApp, type CloudApp } from '../src/app.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { TEST_NOW, testConfig } from './helpers.js';
import { WORKSHOP_PASSWORD, seedWorkshopPeople } from './workshop-fixture.js';

const PASSWORD = WORKSHOP_PASSWORD;
const nonce = () => randomBytes(16).toString('base64url');

describeEngines('workshop stations', (storage) => {
  let cloud: CloudApp;
  let now: Date;
  const stationKey = seedSigner(testSeed('station one'));
  const otherKey = seedSigner(testSeed('station two'));

  beforeEach(async () => {
    now = TEST_NOW;
    await seedWorkshopPeople(storage(), now);
    cloud = await buildApp(testConfig(), { storage: storage(), logger: false, now: () => now });
  });
  afterEach(async () => {
    await cloud.app.close();
  });

  const register = (signer: Signer, dealerId = 'DLR-1', name = 'Bay 1') =>
    signer
      .sign(stationRegistrationMessage({ dealerId, publicKey: toHex(signer.publicKey), name }))
      .then((signature) =>
        cloud.app.inject({
          method: 'POST',
          url: '/v1/stations',
          payload: {
            dealerId,
            name,
            publicKey: toHex(signer.publicKey),
            signature: { value: toHex(signature) },
          },
        }),
      );
  const plainLogin = async (id: string) => {
    const response = await cloud.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: `${id.toLowerCase()}@example.com`, password: PASSWORD },
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json().accessToken as string;
  };
  /** A request signed by `signer` (body as sent, path as sent). */
  const signed = async (
    signer: Signer,
    request: { method: 'GET' | 'POST'; url: string; payload?: object; headers?: object },
    options: { timestamp?: number; nonce?: string; signedBody?: string; signedUrl?: string } = {},
  ) => {
    const body = request.payload === undefined ? '' : JSON.stringify(request.payload);
    const headers = await signStationRequest(signer, {
      method: request.method,
      path: options.signedUrl ?? request.url,
      body: utf8(options.signedBody ?? body),
      timestamp: options.timestamp ?? now.getTime(),
      nonce: options.nonce ?? nonce(),
    });
    return {
      method: request.method,
      url: request.url,
      headers: {
        ...headers,
        ...request.headers,
        ...(body === '' ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === '' ? {} : { payload: body }),
    };
  };
  const approvedStation = async (dealerId = 'DLR-1', signer = stationKey) => {
    const station = (await register(signer, dealerId)).json();
    const admin = await plainLogin(dealerId === 'DLR-1' ? 'ADM-1' : 'ADM-2');
    const approved = await cloud.app.inject({
      method: 'POST',
      url: `/v1/stations/${station.id}/approve`,
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(approved.statusCode, approved.body).toBe(200);
    return station.id as string;
  };
  const stationLogin = async (id: string, stationId: string, signer = stationKey) =>
    cloud.app.inject(
      await signed(signer, {
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: `${id.toLowerCase()}@example.com`, password: PASSWORD, stationId },
      }),
    );

  it('registers a station pending, only with proof of its key, once per key', async () => {
    const response = await register(stationKey);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({
      dealerId: 'DLR-1',
      name: 'Bay 1',
      publicKey: toHex(stationKey.publicKey),
      status: 'pending',
      approvedAt: null,
    });
    expect((await register(stationKey)).statusCode).toBe(409);
    expect((await register(otherKey, 'DLR-9')).statusCode).toBe(404);
    const forged = await cloud.app.inject({
      method: 'POST',
      url: '/v1/stations',
      payload: {
        dealerId: 'DLR-1',
        name: 'Bay 2',
        publicKey: toHex(otherKey.publicKey),
        signature: { value: toHex(await stationKey.sign(utf8('something else'))) },
      },
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.json().error.message).toMatch(/not a signature of this registration/);
    expect(await storage().db.selectFrom('stations').select('id').execute()).toHaveLength(1);
  });

  it("lets a dealer admin list and approve their dealer's stations only", async () => {
    const station = (await register(stationKey)).json();
    const admin1 = await plainLogin('ADM-1');
    const admin2 = await plainLogin('ADM-2');
    const list = (token: string) =>
      cloud.app.inject({
        method: 'GET',
        url: '/v1/stations',
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await list(admin1)).json()).toMatchObject([{ id: station.id, status: 'pending' }]);
    expect((await list(admin2)).json()).toEqual([]);
    const approve = (token: string) =>
      cloud.app.inject({
        method: 'POST',
        url: `/v1/stations/${station.id}/approve`,
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await approve(admin2)).statusCode).toBe(404);
    const approved = await approve(admin1);
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({
      status: 'approved',
      approvedAt: TEST_NOW.toISOString(),
    });
  });

  it('signs mechanics in at an approved station of their own dealer only', async () => {
    const noStation = await cloud.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'mec-1@example.com', password: PASSWORD },
    });
    expect(noStation.statusCode).toBe(403);
    expect(noStation.json().error.message).toMatch(/Mechanics sign in at a workshop station/);

    const pending = (await register(otherKey)).json().id as string;
    expect((await stationLogin('MEC-1', pending, otherKey)).statusCode).toBe(403);

    const stationId = await approvedStation();
    const foreign = await stationLogin('MEC-2', stationId);
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error.message).toMatch(/not an approved workshop station of your dealer/);

    const unsigned = await cloud.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'mec-1@example.com', password: PASSWORD, stationId },
    });
    expect(unsigned.statusCode).toBe(401);
    expect((await stationLogin('MEC-1', stationId, otherKey)).statusCode).toBe(401);

    const ok = await stationLogin('MEC-1', stationId);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().account).toMatchObject({ role: 'mechanic', dealerId: 'DLR-1' });
  });

  it('accepts a station session only on requests signed by the station, once each', async () => {
    const stationId = await approvedStation();
    const token = (await stationLogin('MEC-1', stationId)).json().accessToken as string;
    const auth = { authorization: `Bearer ${token}` };
    const get = { method: 'GET' as const, url: '/v1/firmware', headers: auth };

    const good = await signed(stationKey, get);
    expect((await cloud.app.inject(good)).statusCode).toBe(200);
    const replay = await cloud.app.inject(good);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.message).toMatch(/nonce was used before/);
    // Another cloud process on the same store refuses the replay too.
    const second = await buildApp(testConfig(), {
      storage: storage(),
      logger: false,
      now: () => now,
    });
    try {
      const elsewhere = await second.app.inject(good);
      expect(elsewhere.statusCode).toBe(401);
      expect(elsewhere.json().error.message).toMatch(/nonce was used before/);
      expect((await second.app.inject(await signed(stationKey, get))).statusCode).toBe(200);
    } finally {
      await second.app.close();
    }

    expect((await cloud.app.inject({ ...get })).statusCode).toBe(401);
    const stale = await cloud.app.inject(
      await signed(stationKey, get, { timestamp: now.getTime() - 61_000 }),
    );
    expect(stale.statusCode).toBe(401);
    expect(stale.json().error.message).toMatch(/more than a minute/);
    expect((await cloud.app.inject(await signed(otherKey, get))).statusCode).toBe(401);
    expect(
      (await cloud.app.inject(await signed(stationKey, get, { signedUrl: '/v1/me' }))).statusCode,
    ).toBe(401);

    // A body is covered too: a changed body does not verify, and nothing changes.
    const change = {
      method: 'POST' as const,
      url: '/v1/auth/password',
      headers: auth,
      payload: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
    };
    const tampered = await signed(stationKey, change, {
      signedBody: JSON.stringify({ currentPassword: PASSWORD, newPassword: 'another password!' }),
    });
    expect((await cloud.app.inject(tampered)).statusCode).toBe(401);
    expect((await cloud.app.inject(await signed(stationKey, get))).statusCode).toBe(200);
    expect((await cloud.app.inject(await signed(stationKey, change))).statusCode).toBe(204);
  });

  it('lets the dealer admin revoke a station: its sessions end and it signs nothing any more', async () => {
    const stationId = await approvedStation();
    const login = await stationLogin('MEC-1', stationId);
    const token = login.json().accessToken as string;
    const get = {
      method: 'GET' as const,
      url: '/v1/firmware',
      headers: { authorization: `Bearer ${token}` },
    };
    expect((await cloud.app.inject(await signed(stationKey, get))).statusCode).toBe(200);

    const admin = await plainLogin('ADM-1');
    const otherAdmin = await plainLogin('ADM-2');
    const revoke = (as: string) =>
      cloud.app.inject({
        method: 'POST',
        url: `/v1/stations/${stationId}/revoke`,
        headers: { authorization: `Bearer ${as}` },
      });
    expect((await revoke(otherAdmin)).statusCode).toBe(404);
    const revoked = await revoke(admin);
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(revoked.json()).toMatchObject({
      id: stationId,
      status: 'revoked',
      revokedAt: now.toISOString(),
    });

    // The mechanic's session there is over, and nobody signs in there again.
    const after = await cloud.app.inject(await signed(stationKey, get));
    expect(after.statusCode).toBe(401);
    const again = await stationLogin('MEC-1', stationId);
    expect(again.statusCode).toBe(403);
    expect(again.json().error.message).toMatch(/not an approved workshop station of your dealer/);
    const { db } = storage();
    const sessions = await db
      .selectFrom('sessions')
      .select('revoked_at')
      .where('station_id', '=', stationId)
      .execute();
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.every((row) => row.revoked_at !== null)).toBe(true);

    // For good: approving it again is refused, revoking again changes nothing; one audit row.
    const approve = await cloud.app.inject({
      method: 'POST',
      url: `/v1/stations/${stationId}/approve`,
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(approve.statusCode).toBe(409);
    expect(approve.json().error.message).toMatch(/registers again/);
    expect((await revoke(admin)).json().revokedAt).toBe(now.toISOString());
    const audits = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'station.revoke')
      .execute();
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ account_id: 'ADM-1', role: 'dealer-admin' });
    const list = await cloud.app.inject({
      method: 'GET',
      url: '/v1/stations',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(list.json().find((s: { id: string }) => s.id === stationId).status).toBe('revoked');
  });
});
