/**
 * Release keys the boot loader accepts, pinned when it is built. Development keys are pinned only
 * in development builds: a production bundle defines `globalThis.__BUILD_FLAVOR__` as
 * "production" (esbuild `define`), which drops them; running from source is a development build.
 */
import { fromHex } from '@mini-sharing/shared-protocol/crypto';

declare global {
  var __BUILD_FLAVOR__: 'development' | 'production' | undefined;
}

/** build/keys/development-release-key.json (a test checks they agree). */
export const DEVELOPMENT_RELEASE_PUBLIC_KEY = fromHex(
  '9ba7747cc7554237f4d98fd5b6d312fe7554b4f4165c4869463fa32c38c5804d',
);

/** build/keys/development-cloud-root-key.json (a test checks they agree). */
export const DEVELOPMENT_CLOUD_ROOT_PUBLIC_KEY = fromHex(
  'd141ba6645070d2c89ca84ac61ae8b3a8d049ef00fe9088ac7fffc1e3ebd8ac7',
);

/** Production cloud root key: none issued yet. */
const PRODUCTION_CLOUD_ROOT_PUBLIC_KEY: Uint8Array | undefined = undefined;

/** Production release keys: none issued yet. */
const PRODUCTION_RELEASE_PUBLIC_KEYS: Uint8Array[] = [];

export const BUILD_FLAVOR = globalThis.__BUILD_FLAVOR__ ?? 'development';

export function pinnedReleaseKeys(flavor = BUILD_FLAVOR): Array<{ publicKey: Uint8Array }> {
  const keys =
    flavor === 'development'
      ? [...PRODUCTION_RELEASE_PUBLIC_KEYS, DEVELOPMENT_RELEASE_PUBLIC_KEY]
      : PRODUCTION_RELEASE_PUBLIC_KEYS;
  return keys.map((publicKey) => ({ publicKey }));
}

/**
 * The cloud root key the firmware trusts to certify cloud signing keys (provisioning, service
 * authorizations); undefined when this build pins none, so the module cannot be provisioned.
 */
export function pinnedCloudRootKey(flavor = BUILD_FLAVOR): Uint8Array | undefined {
  return flavor === 'development'
    ? DEVELOPMENT_CLOUD_ROOT_PUBLIC_KEY
    : PRODUCTION_CLOUD_ROOT_PUBLIC_KEY;
}
