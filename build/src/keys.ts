/** Reads the development keys in build/keys/ (see make-dev-keys.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, seedSigner, type Signer } from '@mini-sharing/shared-protocol/crypto';

export type DevelopmentKeyName = 'release' | 'cloud-root' | 'cloud-signing';

const FILES: Record<DevelopmentKeyName, string> = {
  release: 'development-release-key.json',
  'cloud-root': 'development-cloud-root-key.json',
  'cloud-signing': 'development-cloud-signing-key.json',
};

export const KEYS_DIR = join(import.meta.dirname, '..', 'keys');

export function developmentSigner(name: DevelopmentKeyName): Signer {
  const path = join(KEYS_DIR, FILES[name]);
  const document = JSON.parse(readFileSync(path, 'utf8')) as { seed?: unknown };
  if (typeof document.seed !== 'string' || document.seed.length !== 64) {
    throw new Error(
      `${path} has no 32-byte hex seed; regenerate with npx tsx build/src/make-dev-keys.ts`,
    );
  }
  return seedSigner(fromHex(document.seed));
}
