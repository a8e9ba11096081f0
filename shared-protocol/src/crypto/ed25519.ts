/**
 * Ed25519 with strict RFC 8032 verification, through WebCrypto where the runtime has it (Node 20,
 * current Chromium: ~7x faster) and @noble/curves elsewhere. Both backends give the same verdict
 * on every input because the encoding rules they disagree on are checked here first:
 * - S must be canonical (S < L);
 * - the public key A and the commitment R must be canonical encodings (y < p, no "negative zero");
 * - A and R must not be points of small order (the 8 torsion points);
 * - then the cofactorless equation [S]B = R + [k]A (both backends).
 * Verification never throws: hostile input yields false.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, randomBytes } from './bytes.js';
import { keyIdOf } from './hash.js';

export const ED25519_SEED_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

export type Ed25519Backend = 'webcrypto' | 'noble';

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
/** y coordinates of the 8 points of small order (x = ±…), little-endian, sign bit clear. */
const SMALL_ORDER_Y = new Set([
  0n, // order 4
  1n, // identity
  P - 1n, // order 2
  0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n, // order 8
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17d7n, // order 8
]);

function littleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] as number);
  return value;
}

/** Why an encoded point is not acceptable, or undefined when it is. */
function pointProblem(encoded: Uint8Array, what: string): string | undefined {
  const y = littleEndian(encoded) & ((1n << 255n) - 1n);
  if (y >= P) return `${what} is not canonically encoded`;
  if (SMALL_ORDER_Y.has(y)) return `${what} is a point of small order`;
  // x = 0 only for y = ±1, both of small order, so "negative zero" encodings are caught too
  return undefined;
}

/**
 * The strict-encoding rule a public key and signature break, or undefined. Exposed so the
 * vectors can state, per case, which rule rejects it.
 */
export function strictEncodingProblem(
  publicKey: Uint8Array,
  signature: Uint8Array,
): string | undefined {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return 'public key is not 32 bytes';
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return 'signature is not 64 bytes';
  if (littleEndian(signature.subarray(32)) >= L) return 'S is not below the group order';
  return pointProblem(publicKey, 'public key') ?? pointProblem(signature.subarray(0, 32), 'R');
}

// WebCrypto availability, found once per runtime.
let webCryptoProbe: Promise<boolean> | undefined;
function webCryptoHasEd25519(): Promise<boolean> {
  webCryptoProbe ??= (async () => {
    try {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) return false;
      const key = await subtle.importKey(
        'raw',
        ed25519.getPublicKey(new Uint8Array(32)),
        { name: 'Ed25519' },
        false,
        ['verify'],
      );
      return key.type === 'public';
    } catch {
      return false;
    }
  })();
  return webCryptoProbe;
}

/** The backend verification and signing use here. */
export async function ed25519Backend(): Promise<Ed25519Backend> {
  return (await webCryptoHasEd25519()) ? 'webcrypto' : 'noble';
}

// Imported public keys, by hex: the same few cloud keys are checked over and over.
const importedKeys = new Map<string, Promise<CryptoKey>>();
const IMPORTED_KEYS_MAX = 256;

function importPublicKey(publicKey: Uint8Array): Promise<CryptoKey> {
  const id = String.fromCharCode(...publicKey);
  let key = importedKeys.get(id);
  if (!key) {
    key = globalThis.crypto.subtle.importKey(
      'raw',
      new Uint8Array(publicKey),
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    if (importedKeys.size >= IMPORTED_KEYS_MAX) {
      importedKeys.delete(importedKeys.keys().next().value as string);
    }
    importedKeys.set(id, key);
  }
  return key;
}

export interface Ed25519Options {
  /** Force a backend (tests compare both); default: WebCrypto where available. */
  backend?: Ed25519Backend;
}

/** Strict RFC 8032 verification (see top of file). Never throws. */
export async function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  options: Ed25519Options = {},
): Promise<boolean> {
  try {
    if (strictEncodingProblem(publicKey, signature) !== undefined) return false;
    const backend = options.backend ?? (await ed25519Backend());
    if (backend === 'webcrypto') {
      const key = await importPublicKey(publicKey);
      return await globalThis.crypto.subtle.verify(
        { name: 'Ed25519' },
        key,
        new Uint8Array(signature),
        new Uint8Array(message),
      );
    }
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

const PKCS8_ED25519_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/** Sign with a 32-byte seed (RFC 8032 private key). Deterministic: both backends agree. */
export async function signEd25519(
  seed: Uint8Array,
  message: Uint8Array,
  options: Ed25519Options = {},
): Promise<Uint8Array> {
  if (seed.length !== ED25519_SEED_LENGTH) throw new RangeError('an Ed25519 seed is 32 bytes');
  const backend = options.backend ?? (await ed25519Backend());
  if (backend === 'webcrypto') {
    const key = await globalThis.crypto.subtle.importKey(
      'pkcs8',
      new Uint8Array(concatBytes(PKCS8_ED25519_PREFIX, seed)),
      { name: 'Ed25519' },
      false,
      ['sign'],
    );
    return new Uint8Array(
      await globalThis.crypto.subtle.sign({ name: 'Ed25519' }, key, new Uint8Array(message)),
    );
  }
  return ed25519.sign(message, seed);
}

export const ed25519PublicKey = (seed: Uint8Array): Uint8Array => ed25519.getPublicKey(seed);

export const generateEd25519Seed = (): Uint8Array => randomBytes(ED25519_SEED_LENGTH);

/**
 * Something that signs with one Ed25519 key. The module's identity key and the cloud's signing
 * keys sit behind this, so callers never hold private key bytes they do not own.
 */
export interface Signer {
  readonly publicKey: Uint8Array;
  readonly keyId: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A Signer over a seed held in memory (development keys, tests, the simulated module). */
export function seedSigner(seed: Uint8Array): Signer {
  const privateSeed = new Uint8Array(seed);
  const publicKey = ed25519PublicKey(privateSeed);
  return {
    publicKey,
    keyId: keyIdOf(publicKey),
    sign: (message) => signEd25519(privateSeed, message),
  };
}
