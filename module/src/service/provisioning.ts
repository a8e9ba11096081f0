/**
 * ProvisionBegin and ProvisionCommit (PROTOCOL.md section 12 "Keys"). Begin generates the
 * identity key on the module and proves it over the cloud's nonce; commit checks everything
 * (module-link settings under the pinned root, then the module certificate for this serial,
 * this identity key and the VIN the car reports) before storing anything, so a refused commit
 * changes nothing. Re-provisioning a provisioned module is guarded by the authorization wrapper
 * (operation PROVISION), not here.
 */
import {
  ErrorCode,
  ProvisioningState,
  type ProvisionCommitRequest,
} from '@mini-sharing/shared-protocol/messages';
import {
  ServiceError,
  clipText,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import {
  encodeModuleLinkSettings,
  provisioningNonceInput,
  verifyModuleCertificate,
  verifyModuleLinkSettings,
} from '@mini-sharing/shared-protocol/trust';
import { isHalError, type VehicleInterface } from '../hal/index.js';
import type { IdentityStore } from './identity.js';

/** Cloud nonces shorter than this are refused: they would not make the proof fresh. */
export const MIN_CLOUD_NONCE_LENGTH = 16;
export const MAX_CLOUD_NONCE_LENGTH = 64;

export interface ProvisioningServiceOptions {
  identity: IdentityStore;
  moduleSerial: string;
  vehicle: Pick<VehicleInterface, 'readIdentity'>;
  /**
   * Called once a commit is stored, after its answer was handed to the line (or failed to go
   * out: the commit stands either way): the firmware starts what a provisioned module runs
   * (advertising, the cloud link) without a reboot. It reports its own failures.
   */
  afterCommit?(): void;
}

/** The VIN as the car reports it through the 5GE interface. */
async function readVin(vehicle: Pick<VehicleInterface, 'readIdentity'>): Promise<string> {
  try {
    return (await vehicle.readIdentity()).vin;
  } catch (error) {
    if (isHalError(error) && error.code === 'no-sharing-interface') {
      throw new ServiceError(
        ErrorCode.NO_SHARING_INTERFACE,
        'The car has no 5GE sharing interface: it cannot be provisioned',
      );
    }
    throw error;
  }
}

export function createProvisioningService(options: ProvisioningServiceOptions): RequestHandlers {
  const { identity: store, moduleSerial, vehicle } = options;
  return {
    provisionBegin: async (request) => {
      const nonce = request.cloudNonce;
      if (nonce.length < MIN_CLOUD_NONCE_LENGTH || nonce.length > MAX_CLOUD_NONCE_LENGTH) {
        throw new ServiceError(
          ErrorCode.BAD_REQUEST,
          `The cloud nonce must be ${MIN_CLOUD_NONCE_LENGTH} to ${MAX_CLOUD_NONCE_LENGTH} bytes, not ${nonce.length}`,
        );
      }
      // Read the car first: a car without 5GE gets no identity key.
      const vin = await readVin(vehicle);
      const identity = await store.beginIdentity();
      return {
        moduleSerial,
        vin,
        identityPublicKey: identity.publicKey,
        nonceSignature: await identity.sign(provisioningNonceInput(nonce, moduleSerial)),
      };
    },
    provisionCommit: async (request) => {
      const checked = await checkCommit(options, request);
      await store.commit(checked);
      const afterCommit = options.afterCommit;
      // A macrotask: after the answer (built in this turn's microtasks), even if it cannot be sent.
      if (afterCommit) setImmediate(afterCommit);
      return { provisioningState: ProvisioningState.PROVISIONED };
    },
  };
}

const MAX_MESSAGE_LENGTH = 300;

/** Every check of a commit; throws a ServiceError and stores nothing. */
async function checkCommit(
  { identity: store, moduleSerial, vehicle }: ProvisioningServiceOptions,
  request: ProvisionCommitRequest,
) {
  const pending = store.pendingIdentity;
  if (!pending) {
    throw new ServiceError(
      ErrorCode.BAD_REQUEST,
      'No identity key is waiting for a certificate: send provision_begin first',
    );
  }
  if (!request.moduleLink) {
    throw new ServiceError(ErrorCode.BAD_REQUEST, 'The module-link settings are missing');
  }
  const rootPublicKey = store.rootPublicKey;
  if (!rootPublicKey) {
    throw new ServiceError(
      ErrorCode.CERTIFICATE_INVALID,
      'This firmware pins no cloud root key: it cannot accept cloud signing keys',
    );
  }
  const moduleLinkSettings = encodeModuleLinkSettings(request.moduleLink);
  const settings = await verifyModuleLinkSettings(moduleLinkSettings, {
    moduleSerial,
    rootPublicKey,
  });
  if (!settings.ok) {
    const code =
      settings.reason === 'no-valid-cloud-key'
        ? ErrorCode.CERTIFICATE_INVALID
        : ErrorCode.BAD_REQUEST;
    // clipped: the message may quote what the host sent, and the answer must fit in one frame
    throw new ServiceError(code, clipText(settings.message, MAX_MESSAGE_LENGTH), {
      reason: settings.reason,
    });
  }
  const vin = await readVin(vehicle);
  const certificate = await verifyModuleCertificate(request.moduleCertificate, {
    keyRing: settings.value.keyRing,
    moduleSerial,
    modulePublicKey: pending.publicKey,
    vin,
  });
  if (!certificate.ok) {
    const code =
      certificate.reason === 'vin-mismatch'
        ? ErrorCode.VIN_MISMATCH
        : ErrorCode.CERTIFICATE_INVALID;
    throw new ServiceError(code, certificate.message, { reason: certificate.reason });
  }
  return {
    identityPublicKey: pending.publicKey,
    moduleCertificate: request.moduleCertificate,
    moduleLinkSettings,
    cloudKeyCertificates: settings.value.settings.cloudSigningKeys,
  };
}
