/**
 * Signed objects (proto mini.trust.v1.Signed): body bytes, signer key id and an Ed25519
 * signature over a domain-separated message. Every trust format and the MQTT envelopes use this.
 */
import { fromBinary, toBinary, create } from '@bufbuild/protobuf';
import { bytesEqual, concatBytes, utf8 } from '../crypto/bytes.js';
import { type Signer, verifyEd25519 } from '../crypto/ed25519.js';
import { KEY_ID_LENGTH, keyIdOf } from '../crypto/hash.js';
import { SignedSchema, type Signed } from '../messages/gen/mini/trust/v1/signed_pb.js';

export { SignedSchema, type Signed };

/** What a signature is for; part of the signed message, so signatures never cross formats. */
export type SigningDomain =
  | 'cloud-key-certificate'
  | 'digital-key'
  | 'command'
  | 'module-certificate'
  | 'service-authorization'
  | 'station-proof'
  | 'revocation-list'
  | 'cloud-envelope'
  | 'module-envelope'
  | 'provisioning-nonce'
  | 'firmware-image'
  | (string & { readonly __domain?: never });

/** The exact bytes an Ed25519 signature of `domain` covers. */
export function signingInput(domain: SigningDomain, body: Uint8Array): Uint8Array {
  return concatBytes(utf8(`mini-sharing/${domain}/v1`), new Uint8Array([0]), body);
}

/** Sign an encoded body and wrap it; returns the Signed message. */
export async function signObject(
  domain: SigningDomain,
  body: Uint8Array,
  signer: Signer,
): Promise<Signed> {
  const signature = await signer.sign(signingInput(domain, body));
  return create(SignedSchema, { body, signerKeyId: signer.keyId, signature });
}

export const encodeSigned = (signed: Signed): Uint8Array => toBinary(SignedSchema, signed);

/**
 * Decode a Signed wrapper from untrusted bytes; undefined when it is not one. Never throws.
 * Only the canonical encoding (fields 1, 2, 3 in order, nothing else) is accepted, so a signed
 * object has exactly one byte form: no flipped tag or extra field gets through unnoticed.
 */
export function decodeSigned(bytes: Uint8Array): Signed | undefined {
  try {
    const signed = fromBinary(SignedSchema, bytes);
    if (signed.signerKeyId.length !== KEY_ID_LENGTH || signed.signature.length !== 64) {
      return undefined;
    }
    if (!bytesEqual(encodeSigned(signed), bytes)) return undefined;
    return signed;
  } catch {
    return undefined;
  }
}

/**
 * Check a Signed object against one public key: the key id must name that key and the signature
 * must verify for `domain`. Never throws.
 */
export async function verifySignedBy(
  domain: SigningDomain,
  signed: Signed,
  publicKey: Uint8Array,
): Promise<boolean> {
  if (!bytesEqual(signed.signerKeyId, keyIdOf(publicKey))) return false;
  return verifyEd25519(publicKey, signingInput(domain, signed.body), signed.signature);
}

/** Decode a body message from signed bytes; undefined when they do not decode. Never throws. */
export function decodeBody<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}
