/**
 * Checking what a slot holds against this module's rules: the pinned release keys, its hardware
 * revision and the stored security counter. Shared by the boot loader (before it boots a slot)
 * and the flash service (as an image arrives and when it is complete).
 */
import {
  createFirmwareImageVerifier,
  type FirmwareImageVerdict,
  type FirmwareImageVerifier,
} from '@mini-sharing/shared-protocol/firmware-image';
import type { SlotName } from '../boot/boot-decision.js';
import type { ModuleStorage } from '../storage/index.js';
import { readSecurityCounter } from './boot-records.js';

export interface SlotRules {
  pinnedKeys: Array<{ publicKey: Uint8Array }>;
  hardwareRevision: string;
}

/** A streaming verifier with this module's rules and its current security counter. */
export async function createSlotVerifier(
  storage: ModuleStorage,
  rules: SlotRules,
): Promise<FirmwareImageVerifier> {
  return createFirmwareImageVerifier({
    trustedKeys: rules.pinnedKeys,
    hardwareRevision: rules.hardwareRevision,
    minSecurityCounter: await readSecurityCounter(storage.records),
  });
}

/** The verdict on the whole image in a slot, read as a stream. */
export async function verifySlotImage(
  storage: ModuleStorage,
  slot: SlotName,
  rules: SlotRules,
): Promise<FirmwareImageVerdict> {
  const verifier = await createSlotVerifier(storage, rules);
  for await (const chunk of storage.slots.readSlot(slot)) {
    if (verifier.push(chunk)) break;
  }
  return verifier.finish();
}
