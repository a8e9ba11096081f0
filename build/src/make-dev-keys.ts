/**
 * Writes the development keys into build/keys/ (once; they are committed so every checkout signs
 * and verifies with the same development keys). Refuses to overwrite existing keys.
 * Usage: npx tsx build/src/make-dev-keys.ts
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ed25519PublicKey,
  generateEd25519Seed,
  keyIdOf,
  toHex,
} from '@mini-sharing/shared-protocol/crypto';

const keysDir = join(import.meta.dirname, '..', 'keys');
const keys = [
  {
    file: 'development-release-key.json',
    purpose: 'signs firmware images (development builds only)',
  },
  {
    file: 'development-cloud-root-key.json',
    purpose: 'certifies cloud signing keys (development only)',
  },
  {
    file: 'development-cloud-signing-key.json',
    purpose: 'cloud signing key for the simulated workshop',
  },
];
for (const key of keys) {
  const path = join(keysDir, key.file);
  if (existsSync(path)) {
    console.log(`kept ${key.file}`);
    continue;
  }
  const seed = generateEd25519Seed();
  const publicKey = ed25519PublicKey(seed);
  const document = {
    warning: 'DEVELOPMENT KEY: public in this repository. Pinned only in development builds.',
    purpose: key.purpose,
    algorithm: 'Ed25519',
    keyId: toHex(keyIdOf(publicKey)),
    publicKey: toHex(publicKey),
    seed: toHex(seed),
  };
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
  console.log(`wrote ${key.file}`);
}
