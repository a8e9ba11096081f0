/**
 * The committed offset of a slot being written: a record small enough to update in place after
 * every chunk. Two copies ("sectors") alternate, each with a sequence number and a checksum; an
 * update overwrites the older copy and syncs it, so a cut mid-update tears at most that copy and
 * the other still holds the previous committed offset. This costs one fdatasync and no directory
 * sync per chunk, where a rename-based record would cost three syncs.
 *
 * A sector (32 bytes; sector n at offset n * 4096, so the two never share a page or block):
 *   0 "MSPG" | 4 u32 seq | 8 u32 generation | 12 u32 0 | 16 u64 committed offset |
 *   24 first 8 bytes of SHA-256(bytes 0..23)
 * `generation` ties the offset to one write of the slot (see slot metadata): an offset left from
 * an earlier write of the slot counts as zero for a new one.
 */
import { bytesEqual, sha256, utf8 } from '@mini-sharing/shared-protocol/crypto';
import type { StorageFile } from './file-ops.js';

const MAGIC = utf8('MSPG');
const SECTOR_LENGTH = 32;
const SECTOR_SPACING = 4096;
const CHECKED_LENGTH = 24;

export interface Progress {
  readonly seq: number;
  readonly generation: number;
  readonly committedOffset: number;
}

/** No valid copy: a fresh slot, or one whose progress file never got a full sector. */
export const NO_PROGRESS: Progress = { seq: 0, generation: 0, committedOffset: 0 };

export function encodeProgressSector(progress: Progress): Uint8Array {
  const bytes = new Uint8Array(SECTOR_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, progress.seq, true);
  view.setUint32(8, progress.generation, true);
  view.setBigUint64(16, BigInt(progress.committedOffset), true);
  bytes.set(sha256(bytes.subarray(0, CHECKED_LENGTH)).subarray(0, 8), CHECKED_LENGTH);
  return bytes;
}

export function decodeProgressSector(bytes: Uint8Array): Progress | undefined {
  if (bytes.length < SECTOR_LENGTH) return undefined;
  if (!bytesEqual(bytes.subarray(0, 4), MAGIC)) return undefined;
  const check = sha256(bytes.subarray(0, CHECKED_LENGTH)).subarray(0, 8);
  if (!bytesEqual(check, bytes.subarray(CHECKED_LENGTH, SECTOR_LENGTH))) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, SECTOR_LENGTH);
  return {
    seq: view.getUint32(4, true),
    generation: view.getUint32(8, true),
    committedOffset: Number(view.getBigUint64(16, true)),
  };
}

/** The newest intact copy in the progress file. */
export async function readProgress(file: StorageFile): Promise<Progress> {
  let newest = NO_PROGRESS;
  for (const sector of [0, 1]) {
    const found = decodeProgressSector(await file.read(sector * SECTOR_SPACING, SECTOR_LENGTH));
    if (found && found.seq > newest.seq) newest = found;
  }
  return newest;
}

/**
 * Writes `progress` (whose seq must be one above the newest copy) over the older copy and syncs.
 * Resolves once the new offset is durable.
 */
export async function writeProgress(file: StorageFile, progress: Progress): Promise<void> {
  await file.write((progress.seq % 2) * SECTOR_SPACING, encodeProgressSector(progress));
  await file.sync();
}
