/**
 * Builds signed firmware images for the simulated module: the firmware (module/src/firmware/main.ts)
 * bundled by esbuild into one JavaScript file, with its version baked in, wrapped in the signed
 * image format and signed with the development release key. Pure JavaScript (the protocol, mqtt
 * for the cloud link) is bundled; packages with native bindings (serialport for the service link,
 * @stoprocent/bleno with bluetooth-hci-socket for the key link) stay external: they come from the
 * module's platform (the host's node_modules here, NODE_PATH for the firmware), and the build
 * checks that the platform has every one the bundle requires.
 *
 * Usage: npx tsx build/src/build-firmware.ts [--out build/out/firmware]
 * Writes <out>/<version>.msfw for the current and the previous version, so updates can be tried.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { buildFirmwareImage } from '@mini-sharing/shared-protocol/firmware-image';
import { developmentSigner } from './keys.js';

export interface FirmwareRelease {
  version: { major: number; minor: number; patch: number };
  securityCounter: number;
}

/** The releases the simulated workshop ships: current and previous. */
export const RELEASES: readonly FirmwareRelease[] = [
  { version: { major: 1, minor: 0, patch: 0 }, securityCounter: 1 },
  { version: { major: 1, minor: 1, patch: 0 }, securityCounter: 1 },
];

export const HARDWARE_REVISIONS = ['HW-B', 'HW-C'];
const ENTRY = resolve(import.meta.dirname, '../../module/src/firmware/main.ts');
const EXTERNAL = ['serialport', '@serialport/*', '@stoprocent/*'];
/** ws (mqtt's WebSocket transport, unused: the link speaks mqtt:// and mqtts://) tries these. */
const OPTIONAL_EXTERNALS = new Set(['bufferutil', 'utf-8-validate']);
/** The simulated module's platform modules: the boot loader's default NODE_PATH. */
export const PLATFORM_MODULES = resolve(import.meta.dirname, '../../node_modules');

export const versionString = (release: FirmwareRelease) =>
  `${release.version.major}.${release.version.minor}.${release.version.patch}`;

/** Bundle the firmware with this release's version baked in. */
export async function bundleFirmware(release: FirmwareRelease): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    // CommonJS, so the platform's native modules (left external) resolve through NODE_PATH,
    // which the boot loader points at the platform (ESM imports ignore NODE_PATH)
    format: 'cjs',
    target: 'node20',
    write: false,
    minify: false,
    legalComments: 'none',
    external: EXTERNAL,
    define: { 'globalThis.__FIRMWARE_VERSION__': JSON.stringify(versionString(release)) },
    logLevel: 'silent',
    metafile: true,
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no firmware bundle');
  const missing = Object.values(result.metafile.outputs)
    .flatMap((file) => file.imports)
    .filter((entry) => entry.external && !isBuiltin(entry.path))
    .map((entry) => entry.path)
    .filter((name) => !OPTIONAL_EXTERNALS.has(name) && !resolvesFrom(PLATFORM_MODULES, name));
  if (missing.length > 0) {
    throw new Error(
      `the firmware needs ${[...new Set(missing)].join(', ')} from the platform, which has none in ${PLATFORM_MODULES}`,
    );
  }
  return output.contents;
}

function resolvesFrom(platformModules: string, name: string): boolean {
  try {
    createRequire(join(platformModules, 'platform.cjs')).resolve(name);
    return true;
  } catch {
    return false;
  }
}

export async function buildFirmwareRelease(release: FirmwareRelease): Promise<Uint8Array> {
  return buildFirmwareImage(
    {
      hardwareRevisions: HARDWARE_REVISIONS,
      version: release.version,
      securityCounter: release.securityCounter,
      payload: await bundleFirmware(release),
    },
    developmentSigner('release'),
  );
}

/**
 * Builds every release into `<out>/<version>.msfw`; returns the images by version, and the
 * factory version (the previous release, so an update to the current one can be tried).
 */
export async function writeFirmwareReleases(
  out: string,
): Promise<{ images: Map<string, Uint8Array>; factoryVersion: string }> {
  mkdirSync(out, { recursive: true });
  const images = new Map<string, Uint8Array>();
  for (const release of RELEASES) {
    const image = await buildFirmwareRelease(release);
    images.set(versionString(release), image);
    writeFileSync(join(out, `${versionString(release)}.msfw`), image);
  }
  return { images, factoryVersion: versionString(RELEASES[0]!) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outIndex = process.argv.indexOf('--out');
  const out = resolve(outIndex > 0 ? (process.argv[outIndex + 1] ?? '') : 'build/out/firmware');
  const { images } = await writeFirmwareReleases(out);
  for (const [version, image] of images) {
    console.log(`${join(out, `${version}.msfw`)}: ${image.length} bytes`);
  }
}
