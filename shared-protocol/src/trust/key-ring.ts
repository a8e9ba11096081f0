/**
 * Cloud signing keys and the key ring a module holds: the pinned root key certifies signing
 * keys (current and next), so provisioning cannot plant a rogue cloud key and keys can rotate.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { bytesEqual, toHex } from '../crypto/bytes.js';
import { type Signer } from '../crypto/ed25519.js';
import { keyIdOf } from '../crypto/hash.js';
import {
  CloudKeyCertificateSchema,
  type CloudKeyCertificate,
} from '../messages/gen/mini/trust/v1/formats_pb.js';
import { decodeBody, decodeSigned, encodeSigned, signObject, verifySignedBy } from './signed.js';
import { accept, isoTime, refuse, type Verdict } from './verdict.js';

export type CloudKeyCertificateReason = 'malformed' | 'not-signed-by-root' | 'bad-signature';

export interface CloudSigningKey {
  publicKey: Uint8Array;
  keyId: Uint8Array;
  notBeforeMs: number;
  notAfterMs: number;
}

export async function issueCloudKeyCertificate(
  root: Signer,
  key: { publicKey: Uint8Array; notBeforeMs: number; notAfterMs: number },
): Promise<Uint8Array> {
  const body = toBinary(
    CloudKeyCertificateSchema,
    create(CloudKeyCertificateSchema, {
      publicKey: key.publicKey,
      notBeforeMs: BigInt(key.notBeforeMs),
      notAfterMs: BigInt(key.notAfterMs),
    }),
  );
  return encodeSigned(await signObject('cloud-key-certificate', body, root));
}

export async function verifyCloudKeyCertificate(
  bytes: Uint8Array,
  rootPublicKey: Uint8Array,
): Promise<Verdict<CloudSigningKey, CloudKeyCertificateReason>> {
  const signed = decodeSigned(bytes);
  if (!signed) return refuse('malformed', 'The cloud key certificate does not decode');
  if (!bytesEqual(signed.signerKeyId, keyIdOf(rootPublicKey))) {
    return refuse(
      'not-signed-by-root',
      `The cloud key certificate is signed by key ${toHex(signed.signerKeyId)}, not the pinned root key`,
    );
  }
  if (!(await verifySignedBy('cloud-key-certificate', signed, rootPublicKey))) {
    return refuse('bad-signature', 'The cloud key certificate signature is not valid');
  }
  const body: CloudKeyCertificate | undefined = decodeBody(() =>
    fromBinary(CloudKeyCertificateSchema, signed.body),
  );
  if (!body || body.publicKey.length !== 32 || body.notAfterMs <= body.notBeforeMs) {
    return refuse('malformed', 'The cloud key certificate body is not valid');
  }
  return accept({
    publicKey: body.publicKey,
    keyId: keyIdOf(body.publicKey),
    notBeforeMs: Number(body.notBeforeMs),
    notAfterMs: Number(body.notAfterMs),
  });
}

/** Why a cloud signing key does not vouch for an object, or undefined when it does. */
export type SignerReason = 'unknown-signer' | 'signer-not-valid-then';

/**
 * The cloud keys a verifier trusts: the pinned root and the signing keys it certified. A signing
 * key vouches for objects issued within its certificate's validity.
 */
export class CloudKeyRing {
  readonly #keys: CloudSigningKey[];

  private constructor(
    readonly rootPublicKey: Uint8Array,
    keys: CloudSigningKey[],
  ) {
    this.#keys = keys;
  }

  /** Builds the ring from certificates, skipping (and reporting) any that do not verify. */
  static async fromCertificates(
    rootPublicKey: Uint8Array,
    certificates: readonly Uint8Array[],
  ): Promise<{ ring: CloudKeyRing; rejected: Array<{ index: number; message: string }> }> {
    const keys: CloudSigningKey[] = [];
    const rejected: Array<{ index: number; message: string }> = [];
    for (const [index, certificate] of certificates.entries()) {
      const verdict = await verifyCloudKeyCertificate(certificate, rootPublicKey);
      if (verdict.ok) keys.push(verdict.value);
      else rejected.push({ index, message: verdict.message });
    }
    return { ring: new CloudKeyRing(rootPublicKey, keys), rejected };
  }

  get signingKeys(): readonly CloudSigningKey[] {
    return this.#keys;
  }

  /** The signing key with this id, whatever its validity. */
  find(keyId: Uint8Array): CloudSigningKey | undefined {
    return this.#keys.find((key) => bytesEqual(key.keyId, keyId));
  }

  /** Checks that key `keyId` may vouch for an object issued at `issuedAtMs`. */
  check(
    keyId: Uint8Array,
    issuedAtMs: number,
  ): { ok: true; key: CloudSigningKey } | { ok: false; reason: SignerReason; message: string } {
    const key = this.find(keyId);
    if (!key) {
      return {
        ok: false,
        reason: 'unknown-signer',
        message: `Signed by cloud key ${toHex(keyId)}, which this key ring does not hold`,
      };
    }
    if (issuedAtMs < key.notBeforeMs || issuedAtMs > key.notAfterMs) {
      return {
        ok: false,
        reason: 'signer-not-valid-then',
        message: `Cloud key ${toHex(keyId)} is valid ${isoTime(key.notBeforeMs)} to ${isoTime(key.notAfterMs)}, not at ${isoTime(issuedAtMs)}`,
      };
    }
    return { ok: true, key };
  }

  /** A lookup by key id for verifiers that check validity themselves. */
  readonly lookup = (keyId: Uint8Array): Uint8Array | undefined => this.find(keyId)?.publicKey;
}
