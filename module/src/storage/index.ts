// Crash-safe storage: a directory stands in for the module's flash. Records for small state, two
// image slots for firmware. The file-level interface is exported so the HAL can supply it.
import { join } from 'node:path';
import type { StorageOptions } from './record-store.js';
import { RecordStore } from './record-store.js';
import { SlotStore } from './slot-store.js';

export type { StorageErrorCode } from './errors.js';
export { StorageError } from './errors.js';
export type { FileOps, OpenMode, StorageFile } from './file-ops.js';
export { nodeFileOps } from './node-file-ops.js';
export { MAX_RECORD_LENGTH, checkRecordName } from './record-format.js';
export type { JsonValidator, StorageOptions } from './record-store.js';
export { RecordStore } from './record-store.js';
export type { ImageIdentity, SlotInfo } from './image-slot.js';
export type { SlotId, SlotMetaRecord, SlotState, SlotStateUpdate } from './slot-meta.js';
export { SLOT_IDS, SLOT_STATES } from './slot-meta.js';
export type { BeginWriteOptions, SlotWriter } from './slot-store.js';
export { MAX_IMAGE_LENGTH, SlotStore } from './slot-store.js';

export interface ModuleStorage {
  readonly records: RecordStore;
  readonly slots: SlotStore;
  close(): Promise<void>;
}

/** The module's storage under one root: records in records/, image slots in slots/a and slots/b. */
export async function openModuleStorage(
  root: string,
  options: StorageOptions = {},
): Promise<ModuleStorage> {
  const records = await RecordStore.open(join(root, 'records'), options);
  const slots = await SlotStore.open(join(root, 'slots'), options);
  return { records, slots, close: () => slots.close() };
}
