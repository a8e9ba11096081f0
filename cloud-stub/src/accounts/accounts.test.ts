/**
 * Accounts in the store (both engines) and the password hash: one account per e-mail whatever
 * its case, staff belong to a dealer and others do not, tokens are stored only as hashes, and a
 * password change ends every session.
 */
import { describe, expect, it } from 'vitest';
import { describeEngines } from '../storage/testing/engines.js';
import { isUniqueViolation } from '../storage/storage.js';
import {
  createAccount,
  createSession,
  findLiveSession,
  liveSessions,
  setPassword,
} from './accounts.js';
import { hashPassword, needsRehash, verifyPassword } from './passwords.js';
import { ACCOUNT_RULE, ADDRESS_RULE, Throttle } from './throttle.js';

const now = new Date('2026-06-01T12:00:00Z');
const FAST = { logN: 4, r: 8, p: 1 };

describe('password hashes', () => {
  it('are scrypt with N=2^15, r=8, p=1 and a random salt, and verify only the right password', async () => {
    const one = await hashPassword('correct horse battery staple');
    const two = await hashPassword('correct horse battery staple');
    expect(one).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(one).not.toBe(two);
    expect(await verifyPassword('correct horse battery staple', one)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', one)).toBe(false);
    expect(await verifyPassword('x', 'not a hash')).toBe(false);
    expect(needsRehash(one)).toBe(false);
    expect(needsRehash(await hashPassword('x', FAST))).toBe(true);
  });
});

describeEngines('the throttle', (storage) => {
  it('lets 5 failures pass, then locks for 1 s, 2 s, 4 s … and forgets a success', async () => {
    const throttle = new Throttle(storage().db, 'account', ACCOUNT_RULE);
    for (let i = 0; i < 5; i++) await throttle.failed('k', 0);
    expect(await throttle.waitMs('k', 0)).toBe(0);
    await throttle.failed('k', 0);
    expect(await throttle.waitMs('k', 0)).toBe(1000);
    await throttle.failed('k', 1000);
    expect(await throttle.waitMs('k', 1000)).toBe(2000);
    await throttle.failed('k', 3000);
    expect(await throttle.waitMs('k', 3000)).toBe(4000);
    for (let i = 0; i < 40; i++) await throttle.failed('k', 7000);
    expect(await throttle.waitMs('k', 7000)).toBe(ACCOUNT_RULE.maxDelayMs);
    await throttle.succeeded('k');
    expect(await throttle.waitMs('k', 7000)).toBe(0);
    expect(await throttle.waitMs('other', 0)).toBe(0);
  });

  it('is shared by every process on the store, keeps scopes apart, and forgets after an hour', async () => {
    // Two throttles on one store stand for two cloud processes.
    const one = new Throttle(storage().db, 'account', ACCOUNT_RULE);
    const two = new Throttle(storage().db, 'account', ACCOUNT_RULE);
    const addresses = new Throttle(storage().db, 'address', ADDRESS_RULE);
    for (let i = 0; i < 3; i++) await one.failed('k', 0);
    for (let i = 0; i < 3; i++) await two.failed('k', 0);
    expect(await one.waitMs('k', 0)).toBe(1000);
    expect(await two.waitMs('k', 0)).toBe(1000);
    expect(await addresses.waitMs('k', 0)).toBe(0);
    // Concurrent failures are all counted.
    await Promise.all(Array.from({ length: 4 }, () => two.failed('c', 0)));
    await Promise.all(Array.from({ length: 2 }, () => one.failed('c', 0)));
    expect(await one.waitMs('c', 0)).toBe(1000);
    // An hour after the last failure the count starts over.
    const later = ACCOUNT_RULE.forgetAfterMs + 1;
    expect(await one.waitMs('k', later)).toBe(0);
    await one.failed('k', later);
    expect(await one.waitMs('k', later)).toBe(0);
  });
});

describeEngines('accounts', (storage) => {
  const customer = {
    email: 'Kim.Customer@Example.com',
    password: 'p',
    name: 'Kim',
    country: 'DE',
    postalAddress: { lines: ['Hauptstr. 1'], postalCode: '80331', city: 'München' },
    role: 'customer' as const,
  };

  it('keeps one account per e-mail, whatever its case', async () => {
    const { db } = storage();
    const passwordHash = await hashPassword('p', FAST);
    const row = await createAccount(db, customer, now, { passwordHash });
    expect(row.email).toBe('kim.customer@example.com');
    const again = createAccount(db, { ...customer, email: 'KIM.CUSTOMER@example.COM' }, now, {
      passwordHash,
    });
    await expect(again).rejects.toSatisfy(isUniqueViolation);
  });

  it('gives mechanics and dealer admins a dealer, and nobody else', async () => {
    const { db } = storage();
    const passwordHash = await hashPassword('p', FAST);
    await expect(
      createAccount(db, { ...customer, role: 'mechanic' }, now, { passwordHash }),
    ).rejects.toThrow();
    await expect(
      createAccount(db, { ...customer, dealerId: 'D1' }, now, { passwordHash }),
    ).rejects.toThrow();
    await db
      .insertInto('dealers')
      .values({ id: 'D1', name: 'D', market: 'DE', created_at: '', updated_at: '' })
      .execute();
    await expect(
      createAccount(db, { ...customer, role: 'mechanic', dealerId: 'D1' }, now, { passwordHash }),
    ).resolves.toMatchObject({ dealer_id: 'D1' });
  });

  it('stores only the hash of a token, and ends every session on a password change', async () => {
    const { db } = storage();
    const account = await createAccount(db, customer, now, {
      passwordHash: await hashPassword('p', FAST),
    });
    const a = await createSession(db, account, now);
    const b = await createSession(db, account, now, { devicePublicKey: 'ab'.repeat(32) });
    const rows = await db.selectFrom('sessions').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(a.accessToken);
    expect(await findLiveSession(db, a.accessToken, now)).toMatchObject({
      accountId: account.id,
      role: 'customer',
    });
    expect(await findLiveSession(db, 'nope', now)).toBeUndefined();
    expect(await findLiveSession(db, a.accessToken, a.expiresAt)).toBeUndefined();
    await setPassword(db, account.id, 'a new password', now);
    expect(await findLiveSession(db, a.accessToken, now)).toBeUndefined();
    expect(await findLiveSession(db, b.accessToken, now)).toBeUndefined();
    expect(await liveSessions(db, account.id, now)).toEqual([]);
  });
});
