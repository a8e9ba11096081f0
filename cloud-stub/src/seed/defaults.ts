/**
 * The default seed, loaded when the cloud starts on an empty store (a fresh clone's
 * `npm start -w cloud-stub`): the example workshop directory (cloud-stub/seed/directory.json),
 * the simulated world's example fleet as vehicle orders, and the firmware releases build/ makes
 * (cloud-stub/seed/firmware-catalog.json points at build/out/firmware/; they are built first
 * when missing, as `npm run firmware` would).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { PACKAGE_DIR } from '../config.js';
import { countDealers } from '../dealers/directory.js';
import { countFirmwareImages, type ReleaseKey } from '../firmware/catalog.js';
import type { Storage } from '../storage/storage.js';
import { countVehicleOrders } from '../vehicles/orders.js';
import { applySeedFiles, describeSeedReport, type SeedReport } from './seed.js';
import { readSeedFile, type SeedFile } from './seed-files.js';

export const SEED_DIR = join(PACKAGE_DIR, 'seed');
export const DEFAULT_DIRECTORY_FILE = join(SEED_DIR, 'directory.json');
export const DEFAULT_FIRMWARE_CATALOG_FILE = join(SEED_DIR, 'firmware-catalog.json');
/** Where `npm run firmware` writes the images the default catalog lists. */
export const BUILT_FIRMWARE_DIR = resolve(PACKAGE_DIR, '..', 'build', 'out', 'firmware');

/** Builds the firmware releases into build/out/firmware/ unless every one is there. */
export async function ensureFirmwareBuilt(log?: FastifyBaseLogger): Promise<void> {
  const { RELEASES, versionString, writeFirmwareReleases } =
    await import('../../../build/src/build-firmware.js');
  const missing = RELEASES.filter(
    (release) => !existsSync(join(BUILT_FIRMWARE_DIR, `${versionString(release)}.msfw`)),
  );
  if (missing.length === 0) return;
  log?.info(`building the firmware releases into ${BUILT_FIRMWARE_DIR} (development release key)`);
  await writeFirmwareReleases(BUILT_FIRMWARE_DIR);
}

export async function defaultSeedFiles(log?: FastifyBaseLogger): Promise<SeedFile[]> {
  await ensureFirmwareBuilt(log);
  return [
    await readSeedFile(DEFAULT_DIRECTORY_FILE),
    { kind: 'fleet', path: 'shared-protocol example fleet', fleet: exampleFleet() },
    await readSeedFile(DEFAULT_FIRMWARE_CATALOG_FILE),
  ];
}

export async function storeIsEmpty(storage: Storage): Promise<boolean> {
  const counts = await Promise.all([
    countDealers(storage.db),
    countVehicleOrders(storage.db),
    countFirmwareImages(storage.db),
  ]);
  return counts.every((count) => count === 0);
}

/** Seeds the defaults when the store holds nothing yet; undefined when it held something. */
export async function seedDefaultsIfEmpty(
  storage: Storage,
  options: { releaseKeys: readonly ReleaseKey[]; now: () => Date; log?: FastifyBaseLogger },
): Promise<SeedReport | undefined> {
  if (!(await storeIsEmpty(storage))) return undefined;
  const report = await applySeedFiles(storage.db, await defaultSeedFiles(options.log), options);
  options.log?.info(`empty store seeded with the defaults: ${describeSeedReport(report)}`);
  return report;
}
