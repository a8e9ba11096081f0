/**
 * Issuing workshop grants (contract: shared-protocol api/grants.ts): workshop test keys (a digital
 * key for the station's key, unlock and lock only, minutes) and service authorizations (one
 * module, the station's key, the operations, minutes). The rules:
 * - only to a session signed in at an approved station of the caller's dealer (the grant names
 *   that station's key: a stolen access token alone gets nothing usable);
 * - a test key only for a registered (active) module; a service authorization also for a
 *   decommissioned one, which still holds its old identity and needs one to be reset or
 *   re-provisioned (the latest registration of the serial is used);
 * - any dealer may service any car; when the car is in use (its installation report was
 *   accepted and the registration is active) the owner is notified; not while it is installed;
 * - rate-limited per mechanic and per station (rate-limit.ts);
 * - the grant row, the owner notification and the audit row are written in one transaction: an
 *   issuance without its audit row cannot happen, and a refused request writes nothing.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  SERVICE_OPERATION_CODES,
  WORKSHOP_TEST_KEY_PERMISSION_CODES,
  WORKSHOP_TEST_KEY_PERMISSIONS,
  type ServiceAuthorizationGrant,
  type ServiceOperationName,
  type WorkshopTestKey,
} from '@mini-sharing/shared-protocol/api';
import { fromHex, toHex } from '@mini-sharing/shared-protocol/crypto';
import { HolderRole } from '@mini-sharing/shared-protocol/trust';
import type { Kysely, Transaction } from 'kysely';
import { audit } from '../audit/audit-log.js';
import type { Principal } from '../http/auth.js';
import { ApiProblem } from '../http/errors.js';
import { canonicalSerial } from '../http/module-serial.js';
import { activeRegistrationOfSerial, shownRegistration } from '../modules/registry.js';
import type { StationPrincipal } from '../stations/station-session.js';
import type { CloudKeys } from '../keys/cloud-keys.js';
import type { Database, ModuleRegistrationRow, StationRow } from '../storage/schema.js';
import type { Storage } from '../storage/storage.js';
import { findStation, isActiveStation } from '../stations/stations.js';
import { ownerNotice, ownerTime, type GrantKind } from './owner-notice.js';
import {
  GRANT_RATE_LIMITS,
  checkGrantRateLimits,
  type GrantRateLimits,
  type RateLimitHit,
} from './rate-limit.js';

const MINUTE_MS = 60_000;
const GRANT_ID_BYTES = 16;

export interface GrantDeps {
  storage: Storage;
  keys: CloudKeys;
  now: () => Date;
  limits?: GrantRateLimits;
}

/** A 429: too many grants; `retryAfterSeconds` goes into the Retry-After header. */
export class GrantRateLimited extends ApiProblem {
  constructor(
    readonly hit: RateLimitHit,
    readonly retryAfterSeconds: number,
  ) {
    const who =
      hit.limitedBy === 'account'
        ? `You have been issued ${hit.limit} workshop test keys and service authorizations`
        : `This workshop station has been issued ${hit.limit} workshop test keys and service authorizations`;
    const minutes = Math.round(hit.windowMs / MINUTE_MS);
    super(
      429,
      'rate-limited',
      `${who} in the last ${minutes} minutes, the most allowed. You can ask again in ` +
        `${waitWords(retryAfterSeconds)} (at ${ownerTime(hit.retryAt)}); grants already ` +
        'issued keep working until they expire.',
    );
    this.name = 'GrantRateLimited';
  }
}

function waitWords(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

/** Who asks: a mechanic or dealer admin signed in at an approved station of their dealer. */
interface WorkshopCaller {
  principal: Principal;
  accountId: string;
  dealerId: string;
  station: StationRow;
}

async function workshopCaller(
  db: Kysely<Database>,
  principal: StationPrincipal,
): Promise<WorkshopCaller> {
  const station = await findStation(db, principal.stationId);
  if (!isActiveStation(station) || station.dealer_id !== principal.dealerId) {
    throw new ApiProblem(
      403,
      'forbidden',
      'The station this session was signed in at is no longer an approved station of your ' +
        'dealer. Ask your dealer admin to approve it, or sign in at another station.',
    );
  }
  return { principal, accountId: principal.accountId, dealerId: principal.dealerId, station };
}

/** An installed car in use: the owner hears of every grant. */
const carInUse = (registration: ModuleRegistrationRow): boolean =>
  registration.status === 'active' && registration.ready_to_share_at !== null;

interface GrantRecord {
  kind: GrantKind;
  id: Uint8Array;
  caller: WorkshopCaller;
  registration: ModuleRegistrationRow;
  scope: readonly string[];
  validForMinutes: number;
  notBefore: Date;
  notAfter: Date;
}

/**
 * In one transaction: the rate limits (throws GrantRateLimited), then `sign()`, then the grant
 * row, the owner notification (for a car in use) and the audit row. Returns the signed bytes and
 * whether the owner was notified.
 */
async function recordGrant(
  deps: GrantDeps,
  grant: GrantRecord,
  sign: () => Promise<Uint8Array>,
): Promise<{ signed: Uint8Array; ownerNotified: boolean }> {
  const { db, engine } = deps.storage;
  const now = grant.notBefore;
  const { caller, registration } = grant;
  const grantId = toHex(grant.id);
  const dealer = await db
    .selectFrom('dealers')
    .select(['id', 'name'])
    .where('id', '=', caller.dealerId)
    .executeTakeFirst();
  return db.transaction().execute(async (trx: Transaction<Database>) => {
    const hit = await checkGrantRateLimits(
      trx,
      engine,
      { accountId: caller.accountId, stationId: caller.station.id },
      now,
      deps.limits ?? GRANT_RATE_LIMITS,
    );
    if (hit) {
      const seconds = Math.max(1, Math.ceil((hit.retryAt.getTime() - now.getTime()) / 1000));
      throw new GrantRateLimited(hit, seconds);
    }
    const signed = await sign();
    await trx
      .insertInto('workshop_grants')
      .values({
        id: grantId,
        kind: grant.kind,
        registration_id: registration.id,
        serial: registration.serial,
        vin: registration.vin,
        account_id: caller.accountId,
        dealer_id: caller.dealerId,
        station_id: caller.station.id,
        scope: grant.scope.join(','),
        issued_at: now.toISOString(),
        not_after: grant.notAfter.toISOString(),
      })
      .execute();
    const ownerNotified = carInUse(registration);
    if (ownerNotified) {
      const notice = ownerNotice({
        kind: grant.kind,
        grantId,
        vin: registration.vin,
        serial: registration.serial,
        dealer: { id: caller.dealerId, name: dealer?.name ?? caller.dealerId },
        station: { id: caller.station.id, name: caller.station.name },
        scope: grant.scope,
        notBefore: grant.notBefore,
        notAfter: grant.notAfter,
      });
      await trx
        .insertInto('owner_notifications')
        .values({
          id: randomUUID(),
          vin: registration.vin,
          serial: registration.serial,
          account_id: null,
          kind: notice.kind,
          message: notice.message,
          details: JSON.stringify(notice.details),
          created_at: now.toISOString(),
          read_at: null,
        })
        .execute();
    }
    await audit(
      trx,
      {
        action: grant.kind === 'test-key' ? 'grant.test-key' : 'grant.service-authorization',
        principal: caller.principal,
        serial: registration.serial,
        vin: registration.vin,
        details: {
          grantId,
          registrationId: registration.id,
          registrationStatus: registration.status,
          validForMinutes: grant.validForMinutes,
          notBefore: grant.notBefore.toISOString(),
          notAfter: grant.notAfter.toISOString(),
          scope: [...grant.scope],
          ownerNotified,
        },
      },
      now,
    );
    return { signed, ownerNotified };
  });
}

export interface TestKeyRequest {
  principal: StationPrincipal;
  serial: string;
  validForMinutes: number;
}

/** A workshop test key for the caller's station (see the file comment for the rules). */
export async function issueWorkshopTestKey(
  deps: GrantDeps,
  request: TestKeyRequest,
): Promise<WorkshopTestKey> {
  const { db } = deps.storage;
  const caller = await workshopCaller(db, request.principal);
  const serial = canonicalSerial(request.serial, 'params.serial');
  const registration = await activeRegistrationOfSerial(db, serial);
  if (!registration) {
    throw new ApiProblem(
      404,
      'not-found',
      `Module ${serial} is not registered to a car, so it cannot take a test key. Check the ` +
        "serial on the module's label; a new module gets a test key once its registration at " +
        'provisioning went through.',
    );
  }
  const notBefore = deps.now();
  const notAfter = new Date(notBefore.getTime() + request.validForMinutes * MINUTE_MS);
  const tokenId = randomBytes(GRANT_ID_BYTES);
  const permissions = WORKSHOP_TEST_KEY_PERMISSIONS;
  const { signed, ownerNotified } = await recordGrant(
    deps,
    {
      kind: 'test-key',
      id: tokenId,
      caller,
      registration,
      scope: permissions,
      validForMinutes: request.validForMinutes,
      notBefore,
      notAfter,
    },
    () =>
      deps.keys.issueDigitalKey({
        tokenId,
        bookingId: '',
        moduleSerial: registration.serial,
        role: HolderRole.WORKSHOP_TEST,
        ownerGeneration: registration.owner_generation,
        devicePublicKey: fromHex(caller.station.public_key),
        permissions: permissions.map((name) => WORKSHOP_TEST_KEY_PERMISSION_CODES[name]),
        notBeforeMs: BigInt(notBefore.getTime()),
        notAfterMs: BigInt(notAfter.getTime()),
        issuedAtMs: BigInt(notBefore.getTime()),
      }),
  );
  return {
    tokenId: toHex(tokenId),
    token: Buffer.from(signed).toString('base64'),
    moduleSerial: registration.serial,
    vin: registration.vin,
    permissions: [...permissions],
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    stationId: caller.station.id,
    ownerNotified,
  };
}

export interface ServiceAuthorizationRequest {
  principal: StationPrincipal;
  serial: string;
  operations: readonly ServiceOperationName[];
  validForMinutes: number;
}

/** A service authorization for the caller's station (see the file comment for the rules). */
export async function issueServiceAuthorizationGrant(
  deps: GrantDeps,
  request: ServiceAuthorizationRequest,
): Promise<ServiceAuthorizationGrant> {
  const { db } = deps.storage;
  const caller = await workshopCaller(db, request.principal);
  const serial = canonicalSerial(request.serial, 'params.serial');
  const registration = await shownRegistration(db, { serial });
  if (!registration) {
    throw new ApiProblem(
      404,
      'not-found',
      `The cloud does not know module ${serial}. Check the serial on the module's label. A ` +
        'module that was never provisioned needs no service authorization.',
    );
  }
  const notBefore = deps.now();
  const validForMs = request.validForMinutes * MINUTE_MS;
  const notAfter = new Date(notBefore.getTime() + validForMs);
  const authorizationId = randomBytes(GRANT_ID_BYTES);
  // In the contract's order, whatever order they were asked in.
  const operations = (Object.keys(SERVICE_OPERATION_CODES) as ServiceOperationName[]).filter(
    (name) => request.operations.includes(name),
  );
  const { signed, ownerNotified } = await recordGrant(
    deps,
    {
      kind: 'service-authorization',
      id: authorizationId,
      caller,
      registration,
      scope: operations,
      validForMinutes: request.validForMinutes,
      notBefore,
      notAfter,
    },
    () =>
      deps.keys.issueServiceAuthorization({
        authorizationId,
        moduleSerial: registration.serial,
        stationPublicKey: fromHex(caller.station.public_key),
        dealerId: caller.dealerId,
        mechanicId: caller.accountId,
        operations: operations.map((name) => SERVICE_OPERATION_CODES[name]),
        issuedAtMs: notBefore.getTime(),
        validForMs,
      }),
  );
  return {
    authorizationId: toHex(authorizationId),
    authorization: Buffer.from(signed).toString('base64'),
    moduleSerial: registration.serial,
    vin: registration.vin,
    operations,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    stationId: caller.station.id,
    ownerNotified,
  };
}
