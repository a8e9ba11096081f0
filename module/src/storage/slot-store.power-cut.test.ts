/**
 * A power cut after every mutating step of image writes, under every survival outcome: the slot
 * is in its old state or its new one, every acknowledged byte is there, nothing beyond the
 * committed offset is trusted, an interrupted write resumes to a correct image, and the other
 * slot is never disturbed.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual } from '@mini-sharing/shared-protocol/crypto';
import type { FileOps } from './file-ops.js';
import type { SlotInfo } from './image-slot.js';
import type { SlotWriter } from './slot-store.js';
import { SlotStore } from './slot-store.js';
import type { CutPoint } from './testing/index.js';
import {
  SimulatedFlash,
  collect,
  cutAtEveryStep,
  describeCut,
  identityOf,
  testImage,
} from './testing/index.js';

const ROOT = '/flash/slots';
const running = testImage(5000, 1); // confirmed in slot B throughout
const previous = testImage(7000, 2);
const next = testImage(9000, 3);
const VERSION = { major: 2, minor: 1, patch: 0 };

async function writeImage(slots: SlotStore, slot: 'A' | 'B', image: Uint8Array, upTo: number) {
  const writer = await slots.beginWrite(slot, identityOf(image));
  for (let offset = writer.committedOffset; offset < upTo; offset += 1000) {
    await writer.append(offset, image.subarray(offset, Math.min(offset + 1000, upTo)));
  }
  return writer;
}

/** B confirmed with `running`; A as `prepareA` leaves it. */
async function base(prepareA: (slots: SlotStore) => Promise<unknown>): Promise<SimulatedFlash> {
  const flash = new SimulatedFlash();
  const slots = await SlotStore.open(ROOT, { fileOps: flash });
  await (await writeImage(slots, 'B', running, running.length)).complete();
  await slots.setSlotState('B', { state: 'verified', version: VERSION, securityCounter: 4 });
  await slots.setSlotState('B', { state: 'confirmed' });
  await prepareA(slots);
  return flash;
}

async function reopen(after: SimulatedFlash, cut: CutPoint) {
  const slots = await SlotStore.open(ROOT, { fileOps: after });
  const b = await slots.info('B');
  expect(b.state, describeCut(cut)).toBe('confirmed');
  expect(bytesEqual(await collect(slots.readSlot('B')), running), describeCut(cut)).toBe(true);
  return { slots, a: await slots.info('A') };
}

/** Slot A holds a durable prefix of `image`, exactly its committed offset long. */
async function expectPrefix(
  after: SimulatedFlash,
  slots: SlotStore,
  image: Uint8Array,
  a: SlotInfo,
) {
  const bytes = await collect(slots.readSlot('A'));
  expect(bytesEqual(bytes, image.subarray(0, a.committedOffset))).toBe(true);
  expect(after.peek(`${ROOT}/a/image`)?.length).toBe(a.committedOffset);
}

/** The interrupted write resumes and finishes into the right image. */
async function finish(slots: SlotStore, image: Uint8Array): Promise<void> {
  const writer = await writeImage(slots, 'A', image, image.length);
  expect((await writer.complete()).state).toBe('complete');
  expect(bytesEqual(await collect(slots.readSlot('A')), image)).toBe(true);
}

const openSlots = (fileOps: FileOps) => SlotStore.open(ROOT, { fileOps });

describe('image writes under a power cut at every step', () => {
  it('appending a chunk: committed offset old or new, bytes below it intact', async () => {
    let writer: SlotWriter | undefined;
    const steps = await cutAtEveryStep({
      base: await base((slots) => writeImage(slots, 'A', next, 3000)),
      open: async (fileOps) => {
        const slots = await openSlots(fileOps);
        writer = await slots.beginWrite('A', identityOf(next));
        return slots;
      },
      operation: () => (writer as SlotWriter).append(3000, next.subarray(3000, 4000)),
      check: async (after, cut) => {
        const { slots, a } = await reopen(after, cut);
        expect(a.state).toBe('writing');
        expect(cut.acknowledged ? [4000] : [3000, 4000], describeCut(cut)).toContain(
          a.committedOffset,
        );
        await expectPrefix(after, slots, next, a);
        await finish(slots, next);
      },
    });
    expect(steps).toBe(4); // write, sync, write offset, sync
  });

  it('a run of appends keeps every acknowledged chunk', async () => {
    const tracked = { writer: undefined as SlotWriter | undefined, acked: 0 };
    await cutAtEveryStep({
      base: await base((slots) => writeImage(slots, 'A', next, 1000)),
      open: async (fileOps) => {
        const slots = await openSlots(fileOps);
        tracked.writer = await slots.beginWrite('A', identityOf(next));
        tracked.acked = 1000;
        return slots;
      },
      operation: async () => {
        // 1.5 KiB chunks, one of them a retransmit straddling the committed offset
        for (const [from, to] of [
          [1000, 2500],
          [2000, 4000],
          [4000, 5500],
        ] as const) {
          tracked.acked = await (tracked.writer as SlotWriter).append(
            from,
            next.subarray(from, to),
          );
        }
      },
      check: async (after, cut) => {
        const { slots, a } = await reopen(after, cut);
        expect(a.committedOffset, describeCut(cut)).toBeGreaterThanOrEqual(tracked.acked);
        await expectPrefix(after, slots, next, a);
        await finish(slots, next);
      },
    });
  });

  it('starting a new image over a verified one: old image intact, or the new write', async () => {
    let slots: SlotStore | undefined;
    await cutAtEveryStep({
      base: await base(async (store) => {
        await (await writeImage(store, 'A', previous, previous.length)).complete();
        await store.setSlotState('A', { state: 'verified', version: VERSION, securityCounter: 3 });
      }),
      open: async (fileOps) => (slots = await openSlots(fileOps)),
      operation: async () => {
        const writer = await (slots as SlotStore).beginWrite('A', identityOf(next));
        await writer.append(0, next.subarray(0, 1000));
      },
      check: async (after, cut) => {
        const { slots: reopened, a } = await reopen(after, cut);
        if (a.state === 'verified') {
          expect(cut.acknowledged).toBe(false);
          expect(a).toMatchObject({ totalLength: previous.length, version: VERSION });
          expect(bytesEqual(await collect(reopened.readSlot('A')), previous)).toBe(true);
        } else {
          expect(a.state, describeCut(cut)).toBe('writing');
          expect(a.totalLength).toBe(next.length);
          expect(cut.acknowledged ? [1000] : [0, 1000]).toContain(a.committedOffset);
          await expectPrefix(after, reopened, next, a);
        }
        await finish(reopened, next);
      },
    });
  });

  it('completing: still writing with every byte, or complete', async () => {
    let writer: SlotWriter | undefined;
    await cutAtEveryStep({
      base: await base((slots) => writeImage(slots, 'A', next, next.length)),
      open: async (fileOps) => {
        const slots = await openSlots(fileOps);
        writer = await slots.beginWrite('A', identityOf(next));
        return slots;
      },
      operation: () => (writer as SlotWriter).complete(),
      check: async (after, cut) => {
        const { slots, a } = await reopen(after, cut);
        expect(cut.acknowledged ? ['complete'] : ['writing', 'complete']).toContain(a.state);
        expect(a.committedOffset).toBe(next.length);
        await finish(slots, next);
      },
    });
  });

  it('erasing: the old image intact, or empty', async () => {
    let slots: SlotStore | undefined;
    await cutAtEveryStep({
      base: await base(async (store) => (await writeImage(store, 'A', previous, 7000)).complete()),
      open: async (fileOps) => (slots = await openSlots(fileOps)),
      operation: () => (slots as SlotStore).eraseSlot('A'),
      check: async (after, cut) => {
        const { slots: reopened, a } = await reopen(after, cut);
        expect(cut.acknowledged ? ['empty'] : ['complete', 'empty']).toContain(a.state);
        const expected = a.state === 'empty' ? new Uint8Array(0) : previous;
        expect(bytesEqual(await collect(reopened.readSlot('A')), expected)).toBe(true);
      },
    });
  });

  it('the boot loader moving a slot to trial: verified or trial, version kept', async () => {
    let slots: SlotStore | undefined;
    await cutAtEveryStep({
      base: await base(async (store) => {
        await (await writeImage(store, 'A', next, next.length)).complete();
        await store.setSlotState('A', { state: 'verified', version: VERSION, securityCounter: 5 });
      }),
      open: async (fileOps) => (slots = await openSlots(fileOps)),
      operation: () => (slots as SlotStore).setSlotState('A', { state: 'trial' }),
      check: async (after, cut) => {
        const { slots: reopened, a } = await reopen(after, cut);
        expect(cut.acknowledged ? ['trial'] : ['verified', 'trial']).toContain(a.state);
        expect(a).toMatchObject({ version: VERSION, securityCounter: 5 });
        expect(bytesEqual(await collect(reopened.readSlot('A')), next)).toBe(true);
      },
    });
  });

  it('the clean-up at open is itself safe to cut', async () => {
    const flash = await base((slots) => writeImage(slots, 'A', next, 3000));
    const junk = await flash.open(`${ROOT}/a/image`, 'update');
    await junk.write(3000, new Uint8Array(700).fill(0xaa)); // an append cut before its offset
    await junk.sync();
    const steps = await cutAtEveryStep({
      base: flash,
      open: async (fileOps) => fileOps,
      operation: (fileOps) => openSlots(fileOps),
      check: async (after, cut) => {
        const { slots, a } = await reopen(after, cut);
        expect(a.committedOffset).toBe(3000);
        await expectPrefix(after, slots, next, a);
      },
    });
    expect(steps).toBeGreaterThan(0);
  });
});
