/**
 * The cloud's key files: one JSON document per Ed25519 key, in the format of the development keys
 * in build/keys/ (build/src/make-dev-keys.ts writes them): `{ algorithm: "Ed25519", keyId,
 * publicKey, seed }`, all hex. The seed is the private key; the public key and key id, when
 * present, must be the ones the seed gives, so a file edited by hand cannot pass for another key.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ED25519_SEED_LENGTH,
  fromHex,
  seedSigner,
  toHex,
  type Signer,
} from '@mini-sharing/shared-protocol/crypto';

/** The development keys committed in build/keys/ (public: development builds only). */
export const DEVELOPMENT_KEYS_DIR = join(import.meta.dirname, '..', '..', '..', 'build', 'keys');

/** File names in a keys folder (the development keys' names). */
export const CLOUD_KEY_FILES = {
  root: 'development-cloud-root-key.json',
  signing: 'development-cloud-signing-key.json',
} as const;

export interface KeyFileDocument {
  warning?: string;
  purpose?: string;
  algorithm: 'Ed25519';
  keyId?: string;
  publicKey?: string;
  /** 32-byte Ed25519 seed, hex. */
  seed: string;
}

/** A key read from a file: its seed (to persist or derive from) and a signer over it. */
export interface LoadedKey {
  seed: Uint8Array;
  signer: Signer;
}

const HEX = /^[0-9a-f]*$/i;

/** Reads a key document; throws an Error naming the file and what is wrong with it. */
export function parseKeyFile(text: string, source: string): LoadedKey {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source} is not JSON: ${String(error)}`, { cause: error });
  }
  if (typeof document !== 'object' || document === null) {
    throw new Error(`${source} is not a key document`);
  }
  const { algorithm, seed, publicKey, keyId } = document as Record<string, unknown>;
  if (algorithm !== undefined && algorithm !== 'Ed25519') {
    throw new Error(`${source}: algorithm ${String(algorithm)} is not Ed25519`);
  }
  if (typeof seed !== 'string' || seed.length !== 2 * ED25519_SEED_LENGTH || !HEX.test(seed)) {
    throw new Error(`${source} has no 32-byte hex seed`);
  }
  const seedBytes = fromHex(seed.toLowerCase());
  const signer = seedSigner(seedBytes);
  if (publicKey !== undefined && String(publicKey).toLowerCase() !== toHex(signer.publicKey)) {
    throw new Error(`${source}: the public key is not the one its seed gives`);
  }
  if (keyId !== undefined && String(keyId).toLowerCase() !== toHex(signer.keyId)) {
    throw new Error(`${source}: the key id is not the one its seed gives`);
  }
  return { seed: seedBytes, signer };
}

export async function readKeyFile(path: string): Promise<LoadedKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the key file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseKeyFile(text, path);
}

/** The document for a seed (what a keys folder holds), e.g. to write a new key file. */
export function keyFileDocument(seed: Uint8Array, purpose: string): KeyFileDocument {
  const signer = seedSigner(seed);
  return {
    purpose,
    algorithm: 'Ed25519',
    keyId: toHex(signer.keyId),
    publicKey: toHex(signer.publicKey),
    seed: toHex(seed),
  };
}

/** The cloud root key and the initial signing key from a keys folder (e.g. build/keys). */
export async function loadCloudKeyFiles(
  dir: string,
): Promise<{ root: LoadedKey; signing: LoadedKey }> {
  const [root, signing] = await Promise.all([
    readKeyFile(join(dir, CLOUD_KEY_FILES.root)),
    readKeyFile(join(dir, CLOUD_KEY_FILES.signing)),
  ]);
  return { root, signing };
}
