/**
 * Seed files, read and checked before anything is stored (a bad file changes nothing):
 *
 * - a workshop directory (`"format": "mini-sharing/workshop-directory"`): dealers and their
 *   mechanics, see cloud-stub/seed/directory.json and the README;
 * - a fleet file (shared-protocol vehicle/fleet-file.ts, e.g. the simulated world's example
 *   fleet): its cars become vehicle orders;
 * - a firmware catalog (`"format": "mini-sharing/firmware-catalog"`): signed images (paths
 *   relative to the catalog file) with their release notes;
 * - a signed firmware image (`*.msfw`), published without release notes.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import {
  formatFleetFileError,
  parseFleetFile,
  type Fleet,
} from '@mini-sharing/shared-protocol/vehicle';
import {
  WORKSHOP_DIRECTORY_FORMAT,
  WorkshopDirectorySchema,
  directoryProblems,
  type WorkshopDirectory,
} from '../dealers/directory.js';
import { checkDocument } from '../http/validation.js';

export const FIRMWARE_CATALOG_FORMAT = 'mini-sharing/firmware-catalog';

export const FirmwareCatalogFileSchema = Type.Object(
  {
    format: Type.Literal(FIRMWARE_CATALOG_FORMAT),
    version: Type.Literal(1),
    images: Type.Array(
      Type.Object(
        {
          file: Type.String({
            minLength: 1,
            description: 'Path of the .msfw, relative to this file.',
          }),
          releaseNotes: Type.String({ maxLength: 20_000 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export interface SeedImage {
  path: string;
  bytes: Uint8Array;
  releaseNotes: string;
}

export type SeedFile =
  | { kind: 'directory'; path: string; directory: WorkshopDirectory }
  | { kind: 'fleet'; path: string; fleet: Fleet }
  | { kind: 'firmware'; path: string; images: SeedImage[] };

export class SeedFileError extends Error {
  override readonly name = 'SeedFileError';
}

const fail = (path: string, problems: readonly string[]): never => {
  throw new SeedFileError(`${path}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
};

async function readImage(path: string, releaseNotes: string): Promise<SeedImage> {
  try {
    return { path, bytes: new Uint8Array(await readFile(path)), releaseNotes };
  } catch (error) {
    throw new SeedFileError(
      `${path}: cannot read the firmware image (${error instanceof Error ? error.message : String(error)}); ` +
        `build the images with \`npm run firmware\``,
    );
  }
}

/** Reads and checks one seed file; throws a SeedFileError listing what is wrong with it. */
export async function readSeedFile(file: string): Promise<SeedFile> {
  const path = resolve(file);
  if (path.endsWith('.msfw')) {
    return { kind: 'firmware', path, images: [await readImage(path, '')] };
  }
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    return fail(path, [
      `not a readable JSON file: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
  const format = (value as { format?: unknown } | null)?.format;
  if (format === WORKSHOP_DIRECTORY_FORMAT) {
    const checked = checkDocument(WorkshopDirectorySchema, value);
    if (!checked.ok)
      return fail(
        path,
        checked.problems.map((p) => `${p.path}: ${p.message}`),
      );
    const problems = directoryProblems(checked.value);
    if (problems.length > 0) return fail(path, problems);
    return { kind: 'directory', path, directory: checked.value };
  }
  if (format === FIRMWARE_CATALOG_FORMAT) {
    const checked = checkDocument(FirmwareCatalogFileSchema, value);
    if (!checked.ok)
      return fail(
        path,
        checked.problems.map((p) => `${p.path}: ${p.message}`),
      );
    const catalog: Static<typeof FirmwareCatalogFileSchema> = checked.value;
    const images = await Promise.all(
      catalog.images.map((entry) =>
        readImage(resolve(dirname(path), entry.file), entry.releaseNotes),
      ),
    );
    return { kind: 'firmware', path, images };
  }
  if (format === undefined && typeof value === 'object' && value !== null && 'vehicles' in value) {
    const parsed = parseFleetFile(value);
    if (!parsed.ok) return fail(path, parsed.errors.map(formatFleetFileError));
    return { kind: 'fleet', path, fleet: parsed.fleet };
  }
  return fail(path, [
    `not a seed file: expected "format": "${WORKSHOP_DIRECTORY_FORMAT}" or ` +
      `"${FIRMWARE_CATALOG_FORMAT}", a fleet file ({"version": 1, "vehicles": [...]}) or a .msfw image`,
  ]);
}
