/**
 * Service authorizations: the cloud names a module, a registered workshop station's key and the
 * operations allowed, for minutes; the station proves possession per connection by signing the
 * module's fresh challenge. A USB cable alone is never enough to change a provisioned module.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { bytesEqual, concatBytes, utf8 } from '../crypto/bytes.js';
import { type Signer, verifyEd25519 } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import {
  ServiceAuthorizationProofSchema,
  ServiceAuthorizationSchema,
  ServiceOperation,
  type ServiceAuthorization,
} from '../messages/gen/mini/trust/v1/formats_pb.js';
import type { RequestKind } from '../messages/index.js';
import type { CloudKeyRing } from './key-ring.js';
import { decodeBody, decodeSigned, encodeSigned, signObject, signingInput } from './signed.js';
import { accept, isoTime, refuse, type Verdict } from './verdict.js';

export { ServiceOperation, type ServiceAuthorization };

/** Longest validity the cloud grants ("minutes"). */
export const SERVICE_AUTHORIZATION_MAX_MS = 30 * 60 * 1000;

/** The operation a state-changing service-link request needs (undefined: none needed). */
export function operationForRequest(kind: RequestKind): ServiceOperation | undefined {
  switch (kind) {
    case 'flashBegin':
    case 'flashData':
    case 'flashEnd':
    case 'flashActivate':
    case 'flashConfirm':
      return ServiceOperation.FLASH;
    case 'provisionBegin':
    case 'provisionCommit':
      return ServiceOperation.PROVISION;
    case 'selfTestRun':
      return ServiceOperation.ACTUATING_SELF_TEST;
    case 'faultCodesClear':
      return ServiceOperation.CLEAR_FAULTS;
    case 'factoryReset':
      return ServiceOperation.FACTORY_RESET;
    default:
      return undefined;
  }
}

export type ServiceAuthorizationFields = {
  authorizationId: Uint8Array;
  moduleSerial: string;
  stationPublicKey: Uint8Array;
  dealerId: string;
  mechanicId: string;
  operations: ServiceOperation[];
  issuedAtMs: number;
  validForMs: number;
};

export async function issueServiceAuthorization(
  signer: Signer,
  fields: ServiceAuthorizationFields,
): Promise<Uint8Array> {
  if (fields.validForMs <= 0 || fields.validForMs > SERVICE_AUTHORIZATION_MAX_MS) {
    throw new RangeError('a service authorization is valid for up to 30 minutes');
  }
  const body = toBinary(
    ServiceAuthorizationSchema,
    create(ServiceAuthorizationSchema, { ...fields, issuedAtMs: BigInt(fields.issuedAtMs) }),
  );
  return encodeSigned(await signObject('service-authorization', body, signer));
}

/**
 * What the station signs (domain "station-proof"): SHA-256 of the encoded Signed authorization,
 * then the 32-byte challenge, then the module serial in UTF-8.
 */
export function stationProofInput(
  authorizationBytes: Uint8Array,
  challenge: Uint8Array,
  moduleSerial: string,
): Uint8Array {
  return signingInput(
    'station-proof',
    concatBytes(sha256(authorizationBytes), challenge, utf8(moduleSerial)),
  );
}

/** The station answers the module's challenge; the result goes in Request.service_authorization. */
export async function proveServiceAuthorization(
  station: Signer,
  authorizationBytes: Uint8Array,
  challenge: Uint8Array,
  moduleSerial: string,
): Promise<Uint8Array> {
  const stationSignature = await station.sign(
    stationProofInput(authorizationBytes, challenge, moduleSerial),
  );
  return toBinary(
    ServiceAuthorizationProofSchema,
    create(ServiceAuthorizationProofSchema, {
      authorization: authorizationBytes,
      challenge,
      stationSignature,
    }),
  );
}

export type ServiceAuthorizationReason =
  | 'missing'
  | 'malformed'
  | 'unknown-signer'
  | 'bad-signature'
  | 'wrong-module'
  | 'operation-not-allowed'
  | 'not-yet-valid'
  | 'expired'
  | 'challenge-mismatch'
  | 'bad-station-signature';

export interface ServiceAuthorizationContext {
  moduleSerial: string;
  operation: ServiceOperation;
  keyRing: CloudKeyRing;
  /** Module clock, or undefined when the module does not know the time (12 V lost, no coverage). */
  nowMs: number | undefined;
  /** The challenge the module issued on this connection (its freshness is the module's policy). */
  challenge: Uint8Array;
}

export interface AcceptedServiceAuthorization {
  authorization: ServiceAuthorization;
  /** A module with no clock may take this signed time as its own. */
  signedIssueTimeMs: number;
}

/** Never throws. */
export async function verifyServiceAuthorization(
  proofBytes: Uint8Array,
  context: ServiceAuthorizationContext,
): Promise<Verdict<AcceptedServiceAuthorization, ServiceAuthorizationReason>> {
  if (proofBytes.length === 0) {
    return refuse(
      'missing',
      'This module is provisioned: sign in at a registered station to get a service authorization',
    );
  }
  const proof = decodeBody(() => fromBinary(ServiceAuthorizationProofSchema, proofBytes));
  const signed = proof && decodeSigned(proof.authorization);
  const body = signed && decodeBody(() => fromBinary(ServiceAuthorizationSchema, signed.body));
  if (!proof || !signed || !body || body.stationPublicKey.length !== 32) {
    return refuse('malformed', 'The service authorization does not decode');
  }
  const issuedAtMs = Number(body.issuedAtMs);
  const signer = context.keyRing.check(signed.signerKeyId, issuedAtMs);
  if (!signer.ok) return refuse('unknown-signer', signer.message);
  const input = signingInput('service-authorization', signed.body);
  if (!(await verifyEd25519(signer.key.publicKey, input, signed.signature))) {
    return refuse('bad-signature', 'The service authorization signature is not valid');
  }
  if (body.moduleSerial !== context.moduleSerial) {
    return refuse(
      'wrong-module',
      `The authorization is for module ${body.moduleSerial}, not ${context.moduleSerial}`,
    );
  }
  if (!body.operations.includes(context.operation)) {
    return refuse(
      'operation-not-allowed',
      `The authorization does not allow ${ServiceOperation[context.operation]}; request one that does`,
    );
  }
  const validForMs = Math.min(body.validForMs, SERVICE_AUTHORIZATION_MAX_MS);
  if (context.nowMs !== undefined) {
    if (context.nowMs < issuedAtMs) {
      return refuse(
        'not-yet-valid',
        `The authorization is valid from ${isoTime(issuedAtMs)}; check the module clock`,
      );
    }
    if (context.nowMs > issuedAtMs + validForMs) {
      return refuse(
        'expired',
        `The authorization expired at ${isoTime(issuedAtMs + validForMs)}; request a new one`,
      );
    }
  }
  if (!bytesEqual(proof.challenge, context.challenge)) {
    return refuse(
      'challenge-mismatch',
      'The authorization answers another challenge; ask the module for a new one',
    );
  }
  const stationInput = stationProofInput(
    proof.authorization,
    proof.challenge,
    context.moduleSerial,
  );
  if (!(await verifyEd25519(body.stationPublicKey, stationInput, proof.stationSignature))) {
    return refuse('bad-station-signature', 'The challenge is not signed by the authorized station');
  }
  return accept({ authorization: body, signedIssueTimeMs: issuedAtMs });
}
