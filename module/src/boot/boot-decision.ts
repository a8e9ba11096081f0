/**
 * Which slot the boot loader starts, from the boot state and each slot's verdict. Pure, so every
 * combination of slot contents can be tested without processes or files.
 *
 * Rules (DESIGN.md "The links", issue #5): a new image is written to the inactive slot and
 * activated as a trial; the trial slot is booted once; if the firmware confirms itself the trial
 * becomes the active slot, otherwise the next boot reverts to the previous slot. An image that
 * fails verification (hash, signature, pinned key, hardware revision, security counter) is never
 * booted. When no slot can boot, the boot loader serves the recovery service.
 */
import type {
  FirmwareHeader,
  FirmwareImageVerdict,
} from '@mini-sharing/shared-protocol/firmware-image';

export type SlotName = 'A' | 'B';
export const otherSlot = (slot: SlotName): SlotName => (slot === 'A' ? 'B' : 'A');

export interface BootState {
  /** The confirmed slot the module runs normally. */
  active: SlotName;
  /** A slot activated for a trial boot; `attempted` once it has been started unconfirmed. */
  trial?: { slot: SlotName; attempted: boolean };
}

export const INITIAL_BOOT_STATE: BootState = { active: 'A' };

export type BootDecision =
  | {
      action: 'boot';
      slot: SlotName;
      /** The firmware must confirm itself, or the next boot reverts. */
      trial: boolean;
      header: FirmwareHeader;
      /** Persist this before starting the firmware. */
      nextState: BootState;
      /** What happened on the way, for the log. */
      notes: string[];
    }
  | { action: 'recovery'; nextState: BootState; notes: string[] };

export async function decideBoot(
  state: BootState,
  verify: (slot: SlotName) => Promise<FirmwareImageVerdict | 'empty'>,
): Promise<BootDecision> {
  const notes: string[] = [];
  const describe = (slot: SlotName, verdict: FirmwareImageVerdict | 'empty') =>
    verdict === 'empty'
      ? `slot ${slot} is empty`
      : verdict.ok
        ? ''
        : `slot ${slot}: ${verdict.message}`;

  if (state.trial) {
    const { slot } = state.trial;
    if (state.trial.attempted) {
      notes.push(
        `slot ${slot} was test-booted but never confirmed: reverting to slot ${state.active}`,
      );
    } else {
      const verdict = await verify(slot);
      if (verdict !== 'empty' && verdict.ok) {
        return {
          action: 'boot',
          slot,
          trial: true,
          header: verdict.header,
          nextState: { active: state.active, trial: { slot, attempted: true } },
          notes: [`test-booting slot ${slot}`],
        };
      }
      notes.push(`${describe(slot, verdict)}: not test-booting it`);
    }
  }

  for (const slot of [state.active, otherSlot(state.active)]) {
    const verdict = await verify(slot);
    if (verdict !== 'empty' && verdict.ok) {
      if (slot !== state.active)
        notes.push(`slot ${state.active} cannot boot: falling back to slot ${slot}`);
      return {
        action: 'boot',
        slot,
        trial: false,
        header: verdict.header,
        nextState: { active: slot },
        notes,
      };
    }
    notes.push(describe(slot, verdict));
  }
  notes.push('no slot can boot: serving the recovery service');
  return { action: 'recovery', nextState: { active: state.active }, notes };
}

/** The firmware confirmed itself after its start-up self-check: the trial becomes active. */
export function confirmTrial(state: BootState, runningSlot: SlotName): BootState {
  if (state.trial?.slot !== runningSlot) return state;
  return { active: runningSlot };
}

/** A verified image was written to `slot`: test-boot it at the next start. */
export const activateTrial = (state: BootState, slot: SlotName): BootState => ({
  active: state.active,
  trial: { slot, attempted: false },
});
