/**
 * Registering a module at the provisioning step (contract: shared-protocol api/modules.ts).
 *
 * The module proves it holds its new identity key by signing the cloud's nonce and its serial;
 * the cloud checks the serial, the VIN, that the car's order has 5GE, the nonce and the proof,
 * then issues the module certificate, an advertising secret and MQTT credentials, and encodes the
 * module-link settings the module stores at ProvisionCommit.
 *
 * Idempotent by serial: the same serial and key again answers the existing record with the same
 * certificate and advertising secret, and new MQTT credentials. The cloud keeps only a hash of
 * the password, so it cannot send the old one again; the module has stored nothing it did not
 * receive, and the app commits the latest answer, so replacing the hash is safe.
 *
 * The costly work (scrypt, signing) happens before the transaction; the transaction marks the
 * nonce used, stores the registration and writes the audit row, or does none of it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  ModuleRegistrationRequest,
  RegisteredModule,
} from '@mini-sharing/shared-protocol/api';
import { fromHex } from '@mini-sharing/shared-protocol/crypto';
import {
  encodeModuleLinkSettings,
  verifyProvisioningNonce,
} from '@mini-sharing/shared-protocol/trust';
import { hardwareRevisionInfo } from '@mini-sharing/shared-protocol/vehicle';
import { audit } from '../audit/audit-log.js';
import type { CloudContext } from '../context.js';
import { ApiProblem } from '../http/errors.js';
import { canonicalSerial } from '../http/module-serial.js';
import { normalVin } from '../http/vin.js';
import { generateModuleCredentials, type ModuleCredentials } from '../keys/module-credentials.js';
import type { ModuleRegistrationRow } from '../storage/schema.js';
import { isUniqueViolation } from '../storage/storage.js';
import { judgeEligibility } from '../vehicles/eligibility.js';
import { findVehicleOrder } from '../vehicles/orders.js';
import { checkNonce, invalidProof, markNonceUsed, type StationPrincipal } from './nonces.js';
import {
  activeRegistrationOfSerial,
  activeRegistrationOfVin,
  decommissionRoute,
  moduleRegistrationView,
} from './registry.js';

export interface RegistrationResult {
  /** True for a new registration (201), false for a repeat of an existing one (200). */
  created: boolean;
  answer: RegisteredModule;
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function checkHardwareRevision(text: string): string {
  const revision = hardwareRevisionInfo(text);
  if (!revision) {
    throw new ApiProblem(
      400,
      'invalid-request',
      `body.hardwareRevision: unknown revision ${text}.`,
    );
  }
  if (!revision.supported) {
    const message = `Modules of hardware revision ${revision.id} cannot be registered: ${revision.unsupportedBecause ?? 'not supported'}`;
    throw new ApiProblem(400, 'invalid-request', message, [
      { path: 'body.hardwareRevision', message },
    ]);
  }
  return revision.id;
}

const since = (row: ModuleRegistrationRow): string =>
  `since ${row.registered_at} (dealer ${row.dealer_id})`;

function otherKeyConflict(existing: ModuleRegistrationRow): ApiProblem {
  return new ApiProblem(
    409,
    'conflict',
    `Module ${existing.serial} is already registered with another identity key, to VIN ` +
      `${existing.vin} ${since(existing)}. If the module was reset or moved, a dealer admin must ` +
      `first decommission the old registration (${decommissionRoute(existing.serial)}), then ` +
      `run provisioning again.`,
  );
}

function otherCarConflict(existing: ModuleRegistrationRow, vin: string): ApiProblem {
  return new ApiProblem(
    409,
    'conflict',
    `Module ${existing.serial} is registered to another car, VIN ${existing.vin}, ${since(existing)}, ` +
      `but reports VIN ${vin}. To move it to this car, a dealer admin must first decommission ` +
      `the old registration (${decommissionRoute(existing.serial)}), then run provisioning again.`,
  );
}

function carHasModuleConflict(holder: ModuleRegistrationRow): ApiProblem {
  return new ApiProblem(
    409,
    'conflict',
    `VIN ${holder.vin} already has a sharing module, ${holder.serial}, registered ${since(holder)}. ` +
      `A car takes one module: to replace it, a dealer admin must first decommission the old ` +
      `module (${decommissionRoute(holder.serial)}), then register this one.`,
  );
}

/** The registration answer: the record, its certificate, and settings with `credentials`. */
function answerOf(
  context: CloudContext,
  row: ModuleRegistrationRow,
  credentials: ModuleCredentials,
): RegisteredModule {
  const { brokerUrl, caCertificatePem } = context.moduleLinkEndpoint;
  const cloudSigningKeys = context.keys.moduleLinkCertificates();
  const settings = encodeModuleLinkSettings({
    brokerUrl,
    clientId: row.serial,
    username: credentials.username,
    password: credentials.password,
    caCertificatePem: caCertificatePem ?? '',
    cloudSigningKeys,
    advertisingSecret: row.advertising_secret,
  });
  return {
    module: moduleRegistrationView(row),
    moduleCertificate: base64(row.certificate),
    moduleLinkSettings: base64(settings),
    cloudSigningKeys: cloudSigningKeys.map(base64),
    brokerUrl,
  };
}

/**
 * Registers a module (or repeats its registration). Dealer, mechanic and station come from the
 * signed-in session. Throws an ApiProblem for every refusal; a refusal changes nothing.
 */
export async function registerModule(
  context: CloudContext,
  principal: StationPrincipal,
  request: ModuleRegistrationRequest,
): Promise<RegistrationResult> {
  const { db } = context.storage;
  const now = context.now();
  const serial = canonicalSerial(request.moduleSerial, 'body.moduleSerial');
  const vin = normalVin(request.vin);
  const hardwareRevision = checkHardwareRevision(request.hardwareRevision);

  const order = await findVehicleOrder(db, vin);
  if (!order) {
    throw new ApiProblem(
      404,
      'not-found',
      `No vehicle order is registered for VIN ${vin} (the VIN the module read from the car). ` +
        `Check the car; if the VIN is right, the car is not in the brand's order system ` +
        `(contact the technical hotline).`,
    );
  }
  const eligibility = judgeEligibility(order);
  if (!eligibility.eligible) {
    throw new ApiProblem(
      422,
      'not-eligible',
      `VIN ${vin} may not get a sharing module: ${eligibility.reasons.map((r) => r.message).join(' ')}`,
      eligibility.reasons.map((r) => ({ path: 'body.vin', message: `${r.reason}: ${r.message}` })),
    );
  }

  const existing = await activeRegistrationOfSerial(db, serial);
  const nonce = await checkNonce(db, request.nonce, {
    stationId: principal.stationId,
    serial,
    now,
    repeatOf:
      existing && existing.identity_public_key === request.identityPublicKey
        ? { registeredAt: existing.registered_at }
        : undefined,
  });
  const proven = await verifyProvisioningNonce(
    fromHex(request.identityPublicKey),
    fromHex(request.nonce),
    serial,
    fromHex(request.nonceSignature),
  );
  if (!proven) {
    throw invalidProof(
      `The module could not prove it holds the identity key: its signature over the nonce and ` +
        `serial ${serial} does not verify with body.identityPublicKey. Re-run provisioning from ` +
        `the start: a new nonce, then send the module's answer to it unchanged.`,
    );
  }

  if (existing) {
    if (existing.identity_public_key !== request.identityPublicKey) {
      throw otherKeyConflict(existing);
    }
    if (existing.vin !== vin) throw otherCarConflict(existing, vin);
    return repeatRegistration(context, principal, existing, nonce);
  }
  const holder = await activeRegistrationOfVin(db, vin);
  // The car's module may be this very serial, registered with another key since `existing`
  // was read (a concurrent registration): say so, not "another module".
  if (holder) {
    throw holder.serial === serial ? otherKeyConflict(holder) : carHasModuleConflict(holder);
  }

  const { credentials, passwordHash } = await generateModuleCredentials(serial);
  const row: ModuleRegistrationRow = {
    id: `REG-${randomUUID()}`,
    serial,
    vin,
    hardware_revision: hardwareRevision,
    firmware_version: request.firmwareVersion,
    identity_public_key: request.identityPublicKey,
    certificate: await context.keys.issueModuleCertificate({
      moduleSerial: serial,
      modulePublicKey: fromHex(request.identityPublicKey),
      vin,
      issuedAtMs: now.getTime(),
    }),
    advertising_secret: randomBytes(32),
    mqtt_username: credentials.username,
    mqtt_password_hash: passwordHash,
    owner_generation: 0,
    status: 'active',
    dealer_id: principal.dealerId,
    mechanic_id: principal.accountId,
    station_id: principal.stationId,
    registered_at: now.toISOString(),
    updated_at: now.toISOString(),
    ready_to_share_at: null,
    decommissioned_at: null,
    decommissioned_by: null,
    decommission_reason: null,
  };
  try {
    await db.transaction().execute(async (trx) => {
      await markNonceUsed(trx, nonce.nonce, serial, now);
      await trx.insertInto('module_registrations').values(row).execute();
      await audit(
        trx,
        {
          action: 'module.register',
          principal,
          serial,
          vin,
          details: {
            registrationId: row.id,
            hardwareRevision,
            firmwareVersion: request.firmwareVersion,
            identityPublicKey: request.identityPublicKey,
          },
        },
        now,
      );
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // A concurrent registration of this serial or this car won the unique index.
    const bySerial = await activeRegistrationOfSerial(db, serial);
    if (bySerial) {
      throw bySerial.identity_public_key === request.identityPublicKey
        ? new ApiProblem(
            409,
            'conflict',
            `Module ${serial} was registered by another request at the same moment. Send this ` +
              `request again to get that registration.`,
          )
        : otherKeyConflict(bySerial);
    }
    const byVin = await activeRegistrationOfVin(db, vin);
    if (byVin) {
      throw byVin.serial === serial ? otherKeyConflict(byVin) : carHasModuleConflict(byVin);
    }
    throw error;
  }
  return { created: true, answer: answerOf(context, row, credentials) };
}

/** The same module and key again: the stored record, new MQTT credentials (hash replaced). */
async function repeatRegistration(
  context: CloudContext,
  principal: StationPrincipal,
  existing: ModuleRegistrationRow,
  nonce: { nonce: string; fresh: boolean },
): Promise<RegistrationResult> {
  const { db } = context.storage;
  const now = context.now();
  const { credentials, passwordHash } = await generateModuleCredentials(existing.serial);
  await db.transaction().execute(async (trx) => {
    if (nonce.fresh) await markNonceUsed(trx, nonce.nonce, existing.serial, now);
    const result = await trx
      .updateTable('module_registrations')
      .set({ mqtt_password_hash: passwordHash, updated_at: now.toISOString() })
      .where('id', '=', existing.id)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      // Thrown inside: the nonce stays unused.
      throw new ApiProblem(
        409,
        'conflict',
        `Module ${existing.serial} was decommissioned while this request ran. Run provisioning ` +
          `again from the start to register it anew.`,
      );
    }
    await audit(
      trx,
      {
        action: 'module.register-repeat',
        principal,
        serial: existing.serial,
        vin: existing.vin,
        details: { registrationId: existing.id, freshNonce: nonce.fresh },
      },
      now,
    );
  });
  return { created: false, answer: answerOf(context, existing, credentials) };
}
