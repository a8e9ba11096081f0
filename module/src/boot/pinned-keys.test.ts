import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  DEVELOPMENT_CLOUD_ROOT_PUBLIC_KEY,
  DEVELOPMENT_RELEASE_PUBLIC_KEY,
  pinnedCloudRootKey,
  pinnedReleaseKeys,
} from './pinned-keys.js';

describe('pinned release keys', () => {
  it('pins the development release key from build/keys', () => {
    const file = join(import.meta.dirname, '../../../build/keys/development-release-key.json');
    const { publicKey } = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string };
    expect(toHex(DEVELOPMENT_RELEASE_PUBLIC_KEY)).toBe(publicKey);
  });

  it('pins the development key only in development builds', () => {
    const hex = (flavor: 'development' | 'production') =>
      pinnedReleaseKeys(flavor).map((k) => toHex(k.publicKey));
    expect(hex('development')).toContain(toHex(DEVELOPMENT_RELEASE_PUBLIC_KEY));
    expect(hex('production')).not.toContain(toHex(DEVELOPMENT_RELEASE_PUBLIC_KEY));
  });
});

describe('pinned cloud root key', () => {
  it('pins the development cloud root key from build/keys', () => {
    const file = join(import.meta.dirname, '../../../build/keys/development-cloud-root-key.json');
    const { publicKey } = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string };
    expect(toHex(DEVELOPMENT_CLOUD_ROOT_PUBLIC_KEY)).toBe(publicKey);
  });

  it('pins the development root key only in development builds', () => {
    expect(pinnedCloudRootKey('development')).toEqual(DEVELOPMENT_CLOUD_ROOT_PUBLIC_KEY);
    expect(pinnedCloudRootKey('production')).toBeUndefined();
  });
});
