import { describe, expect, it } from 'vitest';
import { seedSigner, sha256, utf8 } from '@mini-sharing/shared-protocol/crypto';
import {
  buildFirmwareImage,
  verifyFirmwareImage,
  type FirmwareImageVerdict,
} from '@mini-sharing/shared-protocol/firmware-image';
import {
  activateTrial,
  confirmTrial,
  decideBoot,
  type BootState,
  type SlotName,
} from './boot-decision.js';

const release = seedSigner(sha256(utf8('mini-sharing TEST key: boot release')));
const stranger = seedSigner(sha256(utf8('mini-sharing TEST key: not pinned')));
const HARDWARE = 'HW-C';
const STORED_COUNTER = 3;

type Content = 'valid' | 'corrupt' | 'unsigned' | 'wrong-hardware' | 'downgraded' | 'empty';
const CONTENTS: Content[] = [
  'valid',
  'corrupt',
  'unsigned',
  'wrong-hardware',
  'downgraded',
  'empty',
];

async function image(content: Content, patch: number): Promise<Uint8Array | undefined> {
  if (content === 'empty') return undefined;
  const bytes = await buildFirmwareImage(
    {
      hardwareRevisions: content === 'wrong-hardware' ? ['HW-B'] : ['HW-B', HARDWARE],
      version: { major: 1, minor: 2, patch },
      securityCounter: content === 'downgraded' ? STORED_COUNTER - 1 : STORED_COUNTER,
      payload: utf8(`firmware 1.2.${patch}`),
    },
    content === 'unsigned' ? stranger : release,
  );
  if (content === 'corrupt') bytes[140]! ^= 0x01; // a payload byte
  return bytes;
}

async function bootWith(a: Content, b: Content, state: BootState) {
  const slots: Record<SlotName, Uint8Array | undefined> = {
    A: await image(a, 1),
    B: await image(b, 2),
  };
  const verify = async (slot: SlotName): Promise<FirmwareImageVerdict | 'empty'> => {
    const bytes = slots[slot];
    if (!bytes) return 'empty';
    return verifyFirmwareImage(bytes, {
      trustedKeys: [{ publicKey: release.publicKey }],
      hardwareRevision: HARDWARE,
      minSecurityCounter: STORED_COUNTER,
    });
  };
  return decideBoot(state, verify);
}

describe('boot decision', () => {
  for (const a of CONTENTS) {
    for (const b of CONTENTS) {
      it(`A ${a}, B ${b}: boots a valid image, preferring the active slot, or serves recovery`, async () => {
        const decision = await bootWith(a, b, { active: 'A' });
        if (a === 'valid')
          expect(decision).toMatchObject({ action: 'boot', slot: 'A', trial: false });
        else if (b === 'valid')
          expect(decision).toMatchObject({
            action: 'boot',
            slot: 'B',
            trial: false,
            nextState: { active: 'B' },
          });
        else expect(decision.action).toBe('recovery');
        if (decision.action === 'boot') {
          expect(decision.header.version.patch).toBe(decision.slot === 'A' ? 1 : 2);
        }
      });
    }
  }

  it('test-boots a freshly activated valid image once', async () => {
    const state = activateTrial({ active: 'A' }, 'B');
    const decision = await bootWith('valid', 'valid', state);
    expect(decision).toMatchObject({
      action: 'boot',
      slot: 'B',
      trial: true,
      nextState: { active: 'A', trial: { slot: 'B', attempted: true } },
    });
  });

  it('reverts on the next boot when the trial image never confirmed', async () => {
    const decision = await bootWith('valid', 'valid', {
      active: 'A',
      trial: { slot: 'B', attempted: true },
    });
    expect(decision).toMatchObject({
      action: 'boot',
      slot: 'A',
      trial: false,
      nextState: { active: 'A' },
    });
    expect(decision.notes.join(' ')).toMatch(/never confirmed/);
  });

  it('keeps the trial image once it confirmed itself', async () => {
    const afterTrialBoot: BootState = { active: 'A', trial: { slot: 'B', attempted: true } };
    const confirmed = confirmTrial(afterTrialBoot, 'B');
    expect(confirmed).toEqual({ active: 'B' });
    expect(await bootWith('valid', 'valid', confirmed)).toMatchObject({
      action: 'boot',
      slot: 'B',
      trial: false,
    });
  });

  for (const bad of ['corrupt', 'unsigned', 'wrong-hardware', 'downgraded'] as const) {
    it(`never test-boots a ${bad} image`, async () => {
      const decision = await bootWith('valid', bad, activateTrial({ active: 'A' }, 'B'));
      expect(decision).toMatchObject({ action: 'boot', slot: 'A', trial: false });
    });
  }

  it('a confirmation from another slot than the trial changes nothing', () => {
    const state: BootState = { active: 'A', trial: { slot: 'B', attempted: true } };
    expect(confirmTrial(state, 'A')).toBe(state);
  });
});
