/**
 * Registration nonces: the fresh value a module signs with its new identity key at ProvisionBegin
 * (proof of possession). Issued to one workshop station, valid 10 minutes, used once: the
 * registration that uses it marks it in the same transaction that stores the module.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import {
  REGISTRATION_NONCE_VALIDITY_MS,
  type RegistrationNonce,
} from '@mini-sharing/shared-protocol/api';
import { audit } from '../audit/audit-log.js';
import { ApiProblem } from '../http/errors.js';
import type { Database } from '../storage/schema.js';

import type { StationPrincipal } from '../stations/station-session.js';

export type { StationPrincipal };

type Db = Kysely<Database> | Transaction<Database>;

const RESTART = 'Re-run provisioning from the start (it asks the cloud for a new nonce).';

/** A 422 for a proof the cloud cannot accept; `message` says why. */
export const invalidProof = (message: string): ApiProblem =>
  new ApiProblem(422, 'invalid-proof', message, [{ path: 'body.nonce', message }]);

export async function issueRegistrationNonce(
  db: Kysely<Database>,
  principal: StationPrincipal,
  now: Date,
): Promise<RegistrationNonce> {
  const nonce = randomBytes(32).toString('hex');
  const expiresAt = new Date(now.getTime() + REGISTRATION_NONCE_VALIDITY_MS).toISOString();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('registration_nonces')
      .values({
        nonce,
        account_id: principal.accountId,
        station_id: principal.stationId,
        created_at: now.toISOString(),
        expires_at: expiresAt,
        used_at: null,
        used_for_serial: null,
      })
      .execute();
    await audit(
      trx,
      { action: 'module.registration-nonce', principal, details: { expiresAt } },
      now,
    );
  });
  return { nonce, expiresAt };
}

export interface NonceUse {
  nonce: string;
  /** True: unused until now, to be marked used with the registration. False: a repeat's nonce. */
  fresh: boolean;
}

/**
 * Whether `nonce` may prove a registration of `serial` made at this station now: issued here,
 * and unused and unexpired, or (for a repeat of the registration `repeatOf`) used for this
 * serial by that registration or after it. A repeat's used nonce is not held to the expiry: the
 * app may retry long after a lost answer, and the proof was checked when the nonce was used.
 * Throws a 422 'invalid-proof' saying what to do.
 */
export async function checkNonce(
  db: Db,
  nonce: string,
  use: {
    stationId: string;
    serial: string;
    now: Date;
    repeatOf?: { registeredAt: string } | undefined;
  },
): Promise<NonceUse> {
  const row = await db
    .selectFrom('registration_nonces')
    .selectAll()
    .where('nonce', '=', nonce)
    .executeTakeFirst();
  if (!row) {
    throw invalidProof(`The cloud did not issue this nonce. ${RESTART}`);
  }
  if (row.station_id !== use.stationId) {
    throw invalidProof(
      `This nonce was issued to another workshop station; a module is registered from the ` +
        `station that asked for its nonce. ${RESTART}`,
    );
  }
  if (row.used_at !== null) {
    const repeat = use.repeatOf;
    if (repeat && row.used_for_serial === use.serial && row.used_at >= repeat.registeredAt) {
      return { nonce, fresh: false };
    }
    throw invalidProof(
      `This nonce was already used at ${row.used_at}${
        row.used_for_serial === use.serial ? '' : ` for module ${row.used_for_serial ?? '?'}`
      }; each provisioning needs a fresh one. ${RESTART}`,
    );
  }
  if (row.expires_at <= use.now.toISOString()) {
    throw invalidProof(
      `This nonce expired at ${row.expires_at} (a nonce is valid 10 minutes). ${RESTART}`,
    );
  }
  return { nonce, fresh: true };
}

/**
 * Marks a fresh nonce used for `serial` (inside the registration's transaction). Conditional on
 * it being unused: 0 rows means a concurrent registration took it first.
 */
export async function markNonceUsed(
  trx: Transaction<Database>,
  nonce: string,
  serial: string,
  now: Date,
): Promise<void> {
  const result = await trx
    .updateTable('registration_nonces')
    .set({ used_at: now.toISOString(), used_for_serial: serial })
    .where('nonce', '=', nonce)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw invalidProof(
      `This nonce was used by another registration at the same moment; each provisioning needs ` +
        `a fresh one. ${RESTART}`,
    );
  }
}
