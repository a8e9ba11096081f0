/**
 * The module certificate: the cloud's signature over (module serial, module public key, VIN,
 * issued at). The module accepts it only for its own serial and key and the VIN it reads from
 * the car; the cloud checks module messages against the key it names.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { bytesEqual, concatBytes, utf8 } from '../crypto/bytes.js';
import { type Signer, verifyEd25519 } from '../crypto/ed25519.js';
import {
  ModuleCertificateSchema,
  type ModuleCertificate,
} from '../messages/gen/mini/trust/v1/formats_pb.js';
import type { CloudKeyRing } from './key-ring.js';
import { decodeBody, decodeSigned, encodeSigned, signObject, signingInput } from './signed.js';
import { accept, refuse, type Verdict } from './verdict.js';

export type { ModuleCertificate };

export async function issueModuleCertificate(
  signer: Signer,
  fields: { moduleSerial: string; modulePublicKey: Uint8Array; vin: string; issuedAtMs: number },
): Promise<Uint8Array> {
  const body = toBinary(
    ModuleCertificateSchema,
    create(ModuleCertificateSchema, { ...fields, issuedAtMs: BigInt(fields.issuedAtMs) }),
  );
  return encodeSigned(await signObject('module-certificate', body, signer));
}

export type ModuleCertificateReason =
  'malformed' | 'unknown-signer' | 'bad-signature' | 'wrong-module' | 'wrong-key' | 'vin-mismatch';

export interface ModuleCertificateExpectations {
  keyRing: CloudKeyRing;
  moduleSerial: string;
  /** The module's own identity public key. */
  modulePublicKey: Uint8Array;
  /** The VIN the module reads from the car. */
  vin: string;
}

/** Never throws. */
export async function verifyModuleCertificate(
  bytes: Uint8Array,
  expected: ModuleCertificateExpectations,
): Promise<Verdict<ModuleCertificate, ModuleCertificateReason>> {
  const signed = decodeSigned(bytes);
  const body = signed && decodeBody(() => fromBinary(ModuleCertificateSchema, signed.body));
  if (!signed || !body || body.modulePublicKey.length !== 32) {
    return refuse('malformed', 'The module certificate does not decode');
  }
  const signer = expected.keyRing.check(signed.signerKeyId, Number(body.issuedAtMs));
  if (!signer.ok) return refuse('unknown-signer', signer.message);
  const input = signingInput('module-certificate', signed.body);
  if (!(await verifyEd25519(signer.key.publicKey, input, signed.signature))) {
    return refuse('bad-signature', 'The module certificate signature is not valid');
  }
  if (body.moduleSerial !== expected.moduleSerial) {
    return refuse(
      'wrong-module',
      `The certificate is for module ${body.moduleSerial}, this is ${expected.moduleSerial}`,
    );
  }
  if (!bytesEqual(body.modulePublicKey, expected.modulePublicKey)) {
    return refuse('wrong-key', "The certificate names another key than this module's identity key");
  }
  if (body.vin !== expected.vin) {
    return refuse(
      'vin-mismatch',
      `The certificate names VIN ${body.vin}, but the car reports ${expected.vin}: register the module to this car`,
    );
  }
  return accept(body);
}

/** What the module signs at ProvisionBegin (domain "provisioning-nonce"): nonce, then serial. */
export const provisioningNonceInput = (cloudNonce: Uint8Array, moduleSerial: string): Uint8Array =>
  signingInput('provisioning-nonce', concatBytes(cloudNonce, utf8(moduleSerial)));

/** The cloud checks the module's proof of its identity key. Never throws. */
export const verifyProvisioningNonce = (
  modulePublicKey: Uint8Array,
  cloudNonce: Uint8Array,
  moduleSerial: string,
  signature: Uint8Array,
): Promise<boolean> =>
  verifyEd25519(modulePublicKey, provisioningNonceInput(cloudNonce, moduleSerial), signature);
