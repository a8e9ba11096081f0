/**
 * For tests: what a refused request must not change, read through the storage API: every record
 * (the module log's `log-<n>` records left out: a refused state-changing request is meant to leave
 * a line there, firmware-service.ts) and both image slots (what the slot store reports and a hash
 * of the committed bytes), plus what the car shows of the module's actions (locks, immobilizer).
 */
import { sha256, toHex } from '@mini-sharing/shared-protocol/crypto';
import { SLOT_IDS, type ModuleStorage } from '../../storage/index.js';

/** The module log's ring (module-log.ts); left out of the snapshot. */
export const LOG_RECORD = /^log-\d+$/;

export interface ModuleStateSnapshot {
  /** Record name -> its bytes in hex. */
  records: Record<string, string>;
  slots: Record<string, Record<string, unknown>>;
  car?: { locked: boolean; immobilizerReleased: boolean };
}

export interface CarState {
  state(): { locked: boolean; immobilizerReleased: boolean };
}

export async function moduleStateSnapshot(
  storage: ModuleStorage,
  car?: CarState,
): Promise<ModuleStateSnapshot> {
  const records: Record<string, string> = {};
  for (const name of await storage.records.list()) {
    if (LOG_RECORD.test(name)) continue;
    const bytes = await storage.records.get(name);
    records[name] = bytes === undefined ? '(gone)' : toHex(bytes);
  }
  const slots: ModuleStateSnapshot['slots'] = {};
  for (const slot of SLOT_IDS) {
    const info = await storage.slots.info(slot);
    const chunks: Uint8Array[] = [];
    for await (const chunk of storage.slots.readSlot(slot)) chunks.push(chunk);
    const content = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      content.set(chunk, at);
      at += chunk.length;
    }
    slots[slot] = {
      ...info,
      imageSha256: info.imageSha256 && toHex(info.imageSha256),
      contentSha256: toHex(sha256(content)),
    };
  }
  if (!car) return { records, slots };
  const { locked, immobilizerReleased } = car.state();
  return { records, slots, car: { locked, immobilizerReleased } };
}
