/**
 * Identity over HTTP, on both engines: sign-in answers a bearer token that the routes accept;
 * sign-out and a password change end sessions; wrong e-mails and wrong passwords get the same
 * answer; guessing is slowed down per account and per address; a customer is signed in on one
 * phone at a time; bad bodies change nothing.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildApp, type CloudApp } from '../src/app.js';
import { createAccount } from '../src/accounts/accounts.js';
import { hashPassword } from '../src/accounts/passwords.js';
import { saveWorkshopDirectory } from '../src/dealers/directory.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { TEST_NOW, testConfig } from './helpers.js';

const PASSWORD = 'the right password';
const PHONE_A = 'aa'.repeat(32);
const PHONE_B = 'bb'.repeat(32);

describeEngines('identity', (storage) => {
  let cloud: CloudApp;
  let now: Date;

  beforeEach(async () => {
    now = TEST_NOW;
    const { db } = storage();
    const passwordHash = await hashPassword(PASSWORD, { logN: 10, r: 8, p: 1 });
    await saveWorkshopDirectory(
      db,
      {
        format: 'mini-sharing/workshop-directory',
        version: 1,
        dealers: [{ id: 'DLR-1', name: 'MINI One', market: 'DE', mechanics: [] }],
      },
      now,
    );
    await createAccount(
      db,
      {
        id: 'CUS-1',
        email: 'kim@example.com',
        password: PASSWORD,
        name: 'Kim Customer',
        country: 'DE',
        postalAddress: { lines: ['Hauptstr. 1'], postalCode: '80331', city: 'München' },
        role: 'customer',
      },
      now,
      { passwordHash },
    );
    await createAccount(
      db,
      {
        id: 'ADM-9',
        email: 'max@mini-one.example',
        password: PASSWORD,
        name: 'Max Admin',
        country: 'DE',
        role: 'dealer-admin',
        dealerId: 'DLR-1',
      },
      now,
      { passwordHash },
    );
    cloud = await buildApp(testConfig(), {
      storage: storage(),
      logger: false,
      now: () => now,
    });
  });
  afterEach(async () => {
    await cloud.app.close();
  });

  const signIn = (email: string, password: string, extra: object = {}, ip = '10.0.0.1') =>
    cloud.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password, ...extra },
      remoteAddress: ip,
    });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const me = (token: string) =>
    cloud.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(token) });
  const tokenOf = async (email: string, extra: object = {}) => {
    const response = await signIn(email, PASSWORD, extra);
    expect(response.statusCode, response.body).toBe(200);
    return response.json().accessToken as string;
  };

  it('signs in (e-mail in any case) and the token opens the routes of the role', async () => {
    const response = await signIn('MAX@Mini-One.example', PASSWORD);
    expect(response.statusCode).toBe(200);
    const session = response.json();
    expect(session).toMatchObject({
      tokenType: 'Bearer',
      expiresAt: '2026-06-02T00:00:00.000Z',
      account: {
        id: 'ADM-9',
        email: 'max@mini-one.example',
        role: 'dealer-admin',
        dealerId: 'DLR-1',
        postalAddress: null,
      },
    });
    expect((await me(session.accessToken)).json()).toEqual(session.account);
    const vehicles = await cloud.app.inject({
      method: 'GET',
      url: '/v1/firmware',
      headers: bearer(session.accessToken),
    });
    expect(vehicles.statusCode).toBe(200);
    const refused = await cloud.app.inject({
      method: 'PUT',
      url: '/v1/vehicles/WMW31DH0302S71642',
      headers: bearer(session.accessToken),
      payload: { model: 'x', market: 'DE', productionDate: '2024-01-01', optionCodes: [] },
    });
    expect(refused.statusCode).toBe(403);
  });

  it('answers a wrong password and an unknown e-mail alike', async () => {
    const wrong = await signIn('max@mini-one.example', 'not it');
    const unknown = await signIn('nobody@mini-one.example', 'not it');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json().error.message).toMatch(/The e-mail or the password is not right/);
  });

  it('refuses tokens that are unknown, expired, or not Bearer, saying to sign in again', async () => {
    const token = await tokenOf('max@mini-one.example');
    for (const headers of [
      bearer('x'.repeat(43)),
      { authorization: `Basic ${token}` },
      bearer(`${token}x`),
    ]) {
      const response = await cloud.app.inject({ method: 'GET', url: '/v1/me', headers });
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('unauthenticated');
    }
    now = new Date(TEST_NOW.getTime() + 12 * 3600_000);
    const expired = await me(token);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.message).toMatch(/expired .* Sign in again/);
  });

  it('signs out one session, leaving the others', async () => {
    const one = await tokenOf('max@mini-one.example');
    const two = await tokenOf('max@mini-one.example');
    const out = await cloud.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(one),
    });
    expect(out.statusCode).toBe(204);
    expect((await me(one)).statusCode).toBe(401);
    expect((await me(two)).statusCode).toBe(200);
  });

  it('changes the password: every session ends, the old password stops working', async () => {
    const one = await tokenOf('max@mini-one.example');
    const two = await tokenOf('max@mini-one.example');
    const change = (token: string, currentPassword: string, newPassword: string) =>
      cloud.app.inject({
        method: 'POST',
        url: '/v1/auth/password',
        headers: bearer(token),
        payload: { currentPassword, newPassword },
      });
    const wrong = await change(one, 'not it', 'a brand new password');
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.message).toMatch(/current password is not right/);
    expect((await change(one, PASSWORD, 'short')).statusCode).toBe(400);
    expect((await change(one, PASSWORD, PASSWORD)).statusCode).toBe(400);
    expect((await me(two)).statusCode).toBe(200);

    expect((await change(one, PASSWORD, 'a brand new password')).statusCode).toBe(204);
    expect((await me(one)).statusCode).toBe(401);
    expect((await me(two)).statusCode).toBe(401);
    expect((await signIn('max@mini-one.example', PASSWORD)).statusCode).toBe(401);
    expect((await signIn('max@mini-one.example', 'a brand new password')).statusCode).toBe(200);
  });

  it('slows down guessing on one account: 429 with Retry-After, even for the right password', async () => {
    for (let i = 0; i < 6; i++) {
      expect((await signIn('max@mini-one.example', `guess ${i}`)).statusCode).toBe(401);
    }
    const locked = await signIn('max@mini-one.example', PASSWORD);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBe('1');
    expect(locked.json().error).toMatchObject({ code: 'too-many-attempts' });
    // An unknown e-mail is slowed down the same way (nothing tells them apart).
    for (let i = 0; i < 6; i++) await signIn('nobody@mini-one.example', `guess ${i}`);
    expect((await signIn('nobody@mini-one.example', 'x')).statusCode).toBe(429);
    // Other accounts are not affected; after the wait the right password works.
    expect(
      (await signIn('kim@example.com', PASSWORD, { devicePublicKey: PHONE_A })).statusCode,
    ).toBe(200);
    now = new Date(TEST_NOW.getTime() + 1000);
    expect((await signIn('max@mini-one.example', PASSWORD)).statusCode).toBe(200);
  });

  it('slows down guessing from one address across accounts', async () => {
    for (let i = 0; i < 21; i++) {
      expect((await signIn(`user${i}@example.com`, 'guess', {}, '10.9.9.9')).statusCode).toBe(401);
    }
    const locked = await signIn('max@mini-one.example', PASSWORD, {}, '10.9.9.9');
    expect(locked.statusCode).toBe(429);
    expect((await signIn('max@mini-one.example', PASSWORD, {}, '10.1.1.1')).statusCode).toBe(200);
  });

  it('keeps a customer signed in on one phone: a sign-in on another ends the first', async () => {
    const missing = await signIn('kim@example.com', PASSWORD);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toMatch(/devicePublicKey/);

    const a = await tokenOf('kim@example.com', { devicePublicKey: PHONE_A });
    expect((await me(a)).json()).toMatchObject({ role: 'customer', country: 'DE' });
    const b = await tokenOf('kim@example.com', { devicePublicKey: PHONE_B });
    expect((await me(a)).statusCode).toBe(401);
    expect((await me(b)).statusCode).toBe(200);
    const rows = await storage()
      .db.selectFrom('sessions')
      .select(['device_public_key', 'revoked_at'])
      .where('account_id', '=', 'CUS-1')
      .orderBy('created_at')
      .orderBy('revoked_at')
      .execute();
    expect(rows.filter((row) => row.revoked_at === null)).toEqual([
      { device_public_key: PHONE_B, revoked_at: null },
    ]);
  });

  it('refuses bad sign-in bodies with a clear 4xx, and signs nobody in', async () => {
    const cases: Array<[object | string, number, string]> = [
      [{ email: 'max@mini-one.example', password: PASSWORD, remember: true }, 400, 'unknown-field'],
      [{ email: 'not an e-mail', password: PASSWORD }, 400, 'invalid-request'],
      [{ email: 'max@mini-one.example' }, 400, 'invalid-request'],
      [{ email: 'max@mini-one.example', password: 'x'.repeat(5000) }, 413, 'payload-too-large'],
      ['{"email":', 400, 'malformed-json'],
    ];
    for (const [payload, status, code] of cases) {
      const response = await cloud.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      expect(response.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(status);
      expect(response.json().error.code).toBe(code);
    }
    const sessions = await storage().db.selectFrom('sessions').selectAll().execute();
    expect(sessions).toEqual([]);
  });

  it('seeds development passwords from the directory, and a second seed keeps a changed one', async () => {
    const directory = {
      format: 'mini-sharing/workshop-directory' as const,
      version: 1 as const,
      dealers: [
        {
          id: 'DLR-1',
          name: 'MINI One',
          market: 'DE',
          mechanics: [
            {
              id: 'ADM-1',
              name: 'Ada Admin',
              email: 'Ada@mini-one.example',
              role: 'dealer-admin' as const,
              password: 'development-only-password',
            },
          ],
        },
      ],
    };
    await saveWorkshopDirectory(storage().db, directory, now);
    const token = await (async () => {
      const response = await signIn('ada@mini-one.example', 'development-only-password');
      expect(response.json().account).toMatchObject({ role: 'dealer-admin', dealerId: 'DLR-1' });
      return response.json().accessToken as string;
    })();
    await cloud.app.inject({
      method: 'POST',
      url: '/v1/auth/password',
      headers: bearer(token),
      payload: {
        currentPassword: 'development-only-password',
        newPassword: 'changed by Ada herself',
      },
    });
    await saveWorkshopDirectory(storage().db, directory, now);
    expect((await signIn('ada@mini-one.example', 'changed by Ada herself')).statusCode).toBe(200);
  });
});
