/**
 * The boot loader's persistent state, shared by the boot loader and the firmware (which confirms
 * itself): the boot state and the stored security counter, as crash-safe JSON records.
 */
import type { RecordStore } from '../storage/index.js';
import { INITIAL_BOOT_STATE, type BootState, type SlotName } from '../boot/boot-decision.js';

const isSlot = (value: unknown): value is SlotName => value === 'A' || value === 'B';

function isBootState(value: unknown): value is BootState {
  if (typeof value !== 'object' || value === null) return false;
  const state = value as Record<string, unknown>;
  if (!isSlot(state.active)) return false;
  if (state.trial === undefined) return true;
  const trial = state.trial as Record<string, unknown> | null;
  return (
    typeof trial === 'object' &&
    trial !== null &&
    isSlot(trial.slot) &&
    typeof trial.attempted === 'boolean'
  );
}

const isCounter = (value: unknown): value is { counter: number } =>
  typeof value === 'object' &&
  value !== null &&
  Number.isSafeInteger((value as { counter?: unknown }).counter) &&
  ((value as { counter: number }).counter ?? -1) >= 0;

export const readBootState = async (records: RecordStore): Promise<BootState> =>
  (await records.getJson('boot-state', isBootState)) ?? INITIAL_BOOT_STATE;

export const writeBootState = (records: RecordStore, state: BootState): Promise<void> =>
  records.putJson('boot-state', state, isBootState);

/** The lowest security counter an image may carry (anti-rollback); 0 on a new module. */
export const readSecurityCounter = async (records: RecordStore): Promise<number> =>
  (await records.getJson('security-counter', isCounter))?.counter ?? 0;

/** Raise (never lower) the stored security counter. */
export async function raiseSecurityCounter(records: RecordStore, counter: number): Promise<void> {
  if (counter > (await readSecurityCounter(records))) {
    await records.putJson('security-counter', { counter }, isCounter);
  }
}
