/**
 * Loading seed files into the store, idempotently: every file is read and checked first (one bad
 * file and nothing is stored), then the directory, the vehicle orders and the firmware images
 * are upserted, each file in its own transaction. Running the same seed twice changes nothing.
 */
import type { Kysely } from 'kysely';
import { saveWorkshopDirectory } from '../dealers/directory.js';
import {
  inspectFirmwareImage,
  publishFirmwareImage,
  type ReleaseKey,
} from '../firmware/catalog.js';
import type { Database } from '../storage/schema.js';
import { vehicleOrderOf } from '../vehicles/order-input.js';
import { saveVehicleOrder } from '../vehicles/orders.js';
import { readSeedFile, SeedFileError, type SeedFile } from './seed-files.js';

export interface SeedReport {
  dealers: number;
  mechanics: number;
  vehicleOrders: { created: number; updated: number };
  firmwareImages: { created: number; existing: number };
}

const ORDER: Record<SeedFile['kind'], number> = { directory: 0, fleet: 1, firmware: 2 };

export async function applySeedFiles(
  db: Kysely<Database>,
  files: readonly SeedFile[],
  options: { releaseKeys: readonly ReleaseKey[]; now: () => Date },
): Promise<SeedReport> {
  const report: SeedReport = {
    dealers: 0,
    mechanics: 0,
    vehicleOrders: { created: 0, updated: 0 },
    firmwareImages: { created: 0, existing: 0 },
  };
  // Images are verified before anything is stored, like the files' syntax.
  for (const file of files) {
    if (file.kind !== 'firmware') continue;
    for (const image of file.images) {
      const inspection = await inspectFirmwareImage(image.bytes, options.releaseKeys);
      if (!inspection.ok) throw new SeedFileError(`${image.path}: ${inspection.message}`);
    }
  }
  const ordered = [...files].sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
  for (const file of ordered) {
    switch (file.kind) {
      case 'directory': {
        const saved = await saveWorkshopDirectory(db, file.directory, options.now());
        report.dealers += saved.dealers;
        report.mechanics += saved.mechanics;
        break;
      }
      case 'fleet':
        await db.transaction().execute(async (trx) => {
          for (const vehicle of file.fleet.vehicles) {
            const { created } = await saveVehicleOrder(trx, vehicleOrderOf(vehicle), options.now());
            if (created) report.vehicleOrders.created++;
            else report.vehicleOrders.updated++;
          }
        });
        break;
      case 'firmware':
        for (const image of file.images) {
          const result = await publishFirmwareImage(db, {
            bytes: image.bytes,
            releaseNotes: image.releaseNotes,
            releaseKeys: options.releaseKeys,
            now: options.now(),
          });
          if (result.outcome === 'rejected' || result.outcome === 'conflict') {
            throw new SeedFileError(`${image.path}: ${result.message}`);
          }
          report.firmwareImages[result.outcome]++;
        }
        break;
    }
  }
  return report;
}

/** Reads every file (failing before anything is stored), then applies them. */
export async function seedFromFiles(
  db: Kysely<Database>,
  paths: readonly string[],
  options: { releaseKeys: readonly ReleaseKey[]; now: () => Date },
): Promise<SeedReport> {
  const files = await Promise.all(paths.map((path) => readSeedFile(path)));
  return applySeedFiles(db, files, options);
}

export const describeSeedReport = (report: SeedReport): string =>
  `${report.dealers} dealers, ${report.mechanics} mechanics, vehicle orders ` +
  `${report.vehicleOrders.created} new / ${report.vehicleOrders.updated} updated, firmware images ` +
  `${report.firmwareImages.created} new / ${report.firmwareImages.existing} already listed`;
