/**
 * The firmware catalog: signed images, each listed for the hardware revisions its header names.
 * An image gets in only with a valid signature of a trusted release key (the same verifier the
 * module and the workshop app run); its version, hardware revisions and security counter are
 * read from the signed header, never taken from the caller. The id is the image's SHA-256, so
 * publishing the same image again changes nothing (its release notes aside), also when several
 * publish it at once; a different image for a (hardware revision, version) already listed is a
 * conflict, refused whole.
 */
import type { Kysely } from 'kysely';
import type { FirmwareImageSummary } from '@mini-sharing/shared-protocol/api';
import { sha256, toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  formatFirmwareVersion,
  parseFirmwareHeader,
  verifyFirmwareImage,
  type FirmwareHeader,
  type FirmwareImageRejectionReason,
} from '@mini-sharing/shared-protocol/firmware-image';
import type { Database, FirmwareImageRow } from '../storage/schema.js';

export interface ReleaseKey {
  readonly publicKey: Uint8Array;
}

export type ImageInspection =
  | { ok: true; id: string; header: FirmwareHeader }
  | { ok: false; reason: FirmwareImageRejectionReason; message: string };

/** Verifies a whole image (format, hash, release signature); never throws. */
export async function inspectFirmwareImage(
  bytes: Uint8Array,
  releaseKeys: readonly ReleaseKey[],
): Promise<ImageInspection> {
  const parsed = parseFirmwareHeader(bytes);
  if (!parsed.ok) return { ok: false, reason: parsed.reason, message: parsed.message };
  const verdict = await verifyFirmwareImage(bytes, {
    trustedKeys: releaseKeys,
    // The catalog serves every revision the image names and takes any security counter: the
    // module enforces its own revision and counter when it installs.
    hardwareRevision: parsed.header.hardwareRevisions[0]!,
    minSecurityCounter: 0,
  });
  if (!verdict.ok) return { ok: false, reason: verdict.reason, message: verdict.message };
  return { ok: true, id: toHex(sha256(bytes)), header: verdict.header };
}

export type PublishOutcome =
  | { outcome: 'created' | 'existing'; image: FirmwareImageSummary }
  | { outcome: 'rejected'; reason: FirmwareImageRejectionReason; message: string }
  | { outcome: 'conflict'; message: string };

/** better-sqlite3 binds Buffers, not plain Uint8Arrays; pg takes either. */
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Thrown inside the transaction to roll it back; never leaves this file. */
class CatalogConflict extends Error {}

const SUMMARY_COLUMNS = [
  'id',
  'version',
  'version_major',
  'version_minor',
  'version_patch',
  'security_counter',
  'size_bytes',
  'signing_key_id',
  'release_notes',
  'published_at',
] as const;

type SummaryRow = Pick<FirmwareImageRow, (typeof SUMMARY_COLUMNS)[number]>;

export const firmwareDownloadPath = (id: string) => `/v1/firmware/${id}/image`;

const toSummary = (row: SummaryRow, hardwareRevisions: string[]): FirmwareImageSummary => ({
  id: row.id,
  version: row.version,
  hardwareRevisions,
  securityCounter: Number(row.security_counter),
  releaseNotes: row.release_notes,
  sizeBytes: row.size_bytes,
  signingKeyId: row.signing_key_id,
  publishedAt: row.published_at,
  downloadPath: firmwareDownloadPath(row.id),
});

export async function publishFirmwareImage(
  db: Kysely<Database>,
  input: {
    bytes: Uint8Array;
    releaseNotes: string;
    releaseKeys: readonly ReleaseKey[];
    now: Date;
  },
): Promise<PublishOutcome> {
  const inspection = await inspectFirmwareImage(input.bytes, input.releaseKeys);
  if (!inspection.ok) return { outcome: 'rejected', ...inspection };
  const { id, header } = inspection;
  const version = formatFirmwareVersion(header.version);
  try {
    const created = await db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('firmware_images')
        .values({
          id,
          version,
          version_major: header.version.major,
          version_minor: header.version.minor,
          version_patch: header.version.patch,
          security_counter: header.securityCounter,
          size_bytes: input.bytes.length,
          signing_key_id: toHex(header.signingKeyId),
          release_notes: input.releaseNotes,
          image: asBuffer(input.bytes),
          published_at: input.now.toISOString(),
        })
        .onConflict((conflict) => conflict.column('id').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted === undefined) {
        // The same image again: only its release notes may change.
        await trx
          .updateTable('firmware_images')
          .set({ release_notes: input.releaseNotes })
          .where('id', '=', id)
          .execute();
        return false;
      }
      for (const hardwareRevision of header.hardwareRevisions) {
        await trx
          .insertInto('firmware_image_revisions')
          .values({ image_id: id, hardware_revision: hardwareRevision, version })
          .onConflict((conflict) => conflict.columns(['hardware_revision', 'version']).doNothing())
          .execute();
        const holder = await trx
          .selectFrom('firmware_image_revisions')
          .select('image_id')
          .where('hardware_revision', '=', hardwareRevision)
          .where('version', '=', version)
          .executeTakeFirstOrThrow();
        if (holder.image_id !== id) {
          throw new CatalogConflict(
            `The catalog already has a different image of version ${version} for ` +
              `${hardwareRevision} (image ${holder.image_id}). A released version is never ` +
              `replaced: give the new build a new version number.`,
          );
        }
      }
      return true;
    });
    const image = await findFirmwareImage(db, id);
    if (!image) throw new Error(`firmware image ${id} vanished right after it was published`);
    return { outcome: created ? 'created' : 'existing', image };
  } catch (error) {
    if (error instanceof CatalogConflict) return { outcome: 'conflict', message: error.message };
    throw error;
  }
}

async function revisionsOf(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, string[]>> {
  const byImage = new Map<string, string[]>();
  if (ids.length === 0) return byImage;
  const rows = await db
    .selectFrom('firmware_image_revisions')
    .select(['image_id', 'hardware_revision'])
    .where('image_id', 'in', ids)
    .orderBy('hardware_revision')
    .execute();
  for (const row of rows) {
    const list = byImage.get(row.image_id) ?? [];
    list.push(row.hardware_revision);
    byImage.set(row.image_id, list);
  }
  return byImage;
}

/** The catalog, newest version first; only the images for `hardwareRevision` when given. */
export async function listFirmwareImages(
  db: Kysely<Database>,
  hardwareRevision?: string,
): Promise<FirmwareImageSummary[]> {
  let query = db.selectFrom('firmware_images').select(SUMMARY_COLUMNS);
  if (hardwareRevision !== undefined) {
    query = query.where('id', 'in', (eb) =>
      eb
        .selectFrom('firmware_image_revisions')
        .select('image_id')
        .where('hardware_revision', '=', hardwareRevision),
    );
  }
  const rows = await query
    .orderBy('version_major', 'desc')
    .orderBy('version_minor', 'desc')
    .orderBy('version_patch', 'desc')
    .orderBy('id')
    .execute();
  const revisions = await revisionsOf(
    db,
    rows.map((row) => row.id),
  );
  return rows.map((row) => toSummary(row, revisions.get(row.id) ?? []));
}

export async function findFirmwareImage(
  db: Kysely<Database>,
  id: string,
): Promise<FirmwareImageSummary | undefined> {
  const row = await db
    .selectFrom('firmware_images')
    .select(SUMMARY_COLUMNS)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  const revisions = await revisionsOf(db, [id]);
  return toSummary(row, revisions.get(id) ?? []);
}

/** The image's bytes, exactly as published. */
export async function readFirmwareImageBytes(
  db: Kysely<Database>,
  id: string,
): Promise<{ version: string; bytes: Buffer } | undefined> {
  const row = await db
    .selectFrom('firmware_images')
    .select(['version', 'image'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  return { version: row.version, bytes: asBuffer(row.image) };
}

export async function countFirmwareImages(db: Kysely<Database>): Promise<number> {
  const { count } = await db
    .selectFrom('firmware_images')
    .select((eb) => eb.fn.countAll().as('count'))
    .executeTakeFirstOrThrow();
  return Number(count);
}
