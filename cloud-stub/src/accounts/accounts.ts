/**
 * Accounts and sessions in the store. An access token is 32 random bytes (base64url) that only
 * the client holds; the store keeps its SHA-256. A session ends when it expires, on sign-out, on
 * a password change (every session of the account) and, for a customer, when the customer signs
 * in on another phone (DESIGN.md: one logged-in phone per customer).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Account, PostalAddress, Role } from '@mini-sharing/shared-protocol/api';
import type { AccountRow, Database } from '../storage/schema.js';
import { hashPassword } from './passwords.js';

/** How long a session lasts: a customer's phone stays signed in; a workshop sign-in, a shift. */
export const SESSION_LIFETIME_MS: Readonly<Record<Role, number>> = {
  customer: 30 * 24 * 3600_000,
  mechanic: 12 * 3600_000,
  'dealer-admin': 12 * 3600_000,
  agent: 12 * 3600_000,
};

export interface NewAccount {
  id?: string;
  email: string;
  password: string;
  name: string;
  country: string;
  postalAddress?: PostalAddress | null;
  role: Role;
  dealerId?: string | null;
}

export const normalEmail = (email: string): string => email.trim().toLowerCase();

export async function createAccount(
  db: Kysely<Database>,
  account: NewAccount,
  now: Date,
  options: { passwordHash?: string } = {},
): Promise<AccountRow> {
  const at = now.toISOString();
  const row = {
    id: account.id ?? `ACC-${randomUUID()}`,
    email: normalEmail(account.email),
    password_hash: options.passwordHash ?? (await hashPassword(account.password)),
    name: account.name,
    country: account.country,
    postal_address: account.postalAddress ? JSON.stringify(account.postalAddress) : null,
    role: account.role,
    dealer_id: account.dealerId ?? null,
    password_changed_at: at,
    created_at: at,
    updated_at: at,
  };
  await db.insertInto('accounts').values(row).execute();
  return row;
}

export const findAccountByEmail = (db: Kysely<Database>, email: string) =>
  db.selectFrom('accounts').selectAll().where('email', '=', normalEmail(email)).executeTakeFirst();

export const findAccount = (db: Kysely<Database>, id: string) =>
  db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();

export function accountView(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    country: row.country,
    postalAddress: row.postal_address === null ? null : JSON.parse(row.postal_address),
    role: row.role,
    dealerId: row.dealer_id,
  };
}

export const tokenHash = (token: string): string =>
  createHash('sha256').update(token).digest('hex');

export interface NewSession {
  id: string;
  accessToken: string;
  expiresAt: Date;
}

export async function createSession(
  db: Kysely<Database>,
  account: AccountRow,
  now: Date,
  options: { devicePublicKey?: string; stationId?: string } = {},
): Promise<NewSession> {
  const accessToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS[account.role]);
  const id = `SES-${randomUUID()}`;
  await db
    .insertInto('sessions')
    .values({
      id,
      token_hash: tokenHash(accessToken),
      account_id: account.id,
      device_public_key: options.devicePublicKey ?? null,
      station_id: options.stationId ?? null,
      created_at: now.toISOString(),
      expires_at: expiresAt.toISOString(),
      revoked_at: null,
    })
    .execute();
  return { id, accessToken, expiresAt };
}

/** The live session of a token, with its account; undefined when unknown, expired or ended. */
export async function findLiveSession(db: Kysely<Database>, accessToken: string, now: Date) {
  return db
    .selectFrom('sessions')
    .innerJoin('accounts', 'accounts.id', 'sessions.account_id')
    .select([
      'sessions.id as sessionId',
      'sessions.device_public_key as devicePublicKey',
      'sessions.station_id as stationId',
      'accounts.id as accountId',
      'accounts.role as role',
      'accounts.dealer_id as dealerId',
    ])
    .where('sessions.token_hash', '=', tokenHash(accessToken))
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', now.toISOString())
    .executeTakeFirst();
}

/** The account's live sessions, oldest first. */
export const liveSessions = (db: Kysely<Database>, accountId: string, now: Date) =>
  db
    .selectFrom('sessions')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now.toISOString())
    .orderBy('created_at')
    .execute();

export async function revokeSession(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: now.toISOString() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Ends every session of an account; answers how many were live. */
export async function revokeAllSessions(
  db: Kysely<Database>,
  accountId: string,
  now: Date,
): Promise<number> {
  const result = await db
    .updateTable('sessions')
    .set({ revoked_at: now.toISOString() })
    .where('account_id', '=', accountId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Sets a new password and ends every session of the account, in one transaction. */
export async function setPassword(
  db: Kysely<Database>,
  accountId: string,
  password: string,
  now: Date,
): Promise<void> {
  const hash = await hashPassword(password);
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('accounts')
      .set({
        password_hash: hash,
        password_changed_at: now.toISOString(),
        updated_at: now.toISOString(),
      })
      .where('id', '=', accountId)
      .execute();
    await revokeAllSessions(trx, accountId, now);
  });
}
