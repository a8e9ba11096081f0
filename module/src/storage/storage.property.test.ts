/**
 * Random sequences of record and slot operations with power cuts at random steps and random
 * survival outcomes. A model predicts the state before and after each operation; after every cut
 * the reopened storage must show exactly one of the two, and every chunk it holds must be the
 * image's own bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, toHex } from '@mini-sharing/shared-protocol/crypto';
import type { ModuleStorage, SlotId, SlotWriter } from './index.js';
import { openModuleStorage } from './index.js';
import type { PowerCutOutcome } from './testing/index.js';
import {
  CuttingFileOps,
  PowerCut,
  SimulatedFlash,
  collect,
  identityOf,
  testImage,
} from './testing/index.js';

const ROOT = '/flash';
const IMAGES = [testImage(6000, 11), testImage(4500, 12)];
const HASHES = IMAGES.map((image) => toHex(identityOf(image).imageSha256));
const VERSION = { major: 1, minor: 0, patch: 0 };

type Op =
  | { kind: 'put'; name: string; value: string }
  | { kind: 'delete'; name: string }
  | { kind: 'begin'; slot: SlotId; image: number; resume: boolean }
  | { kind: 'append'; slot: SlotId; length: number; backoff: number }
  | { kind: 'complete'; slot: SlotId }
  | { kind: 'verify'; slot: SlotId }
  | { kind: 'erase'; slot: SlotId };

interface SlotModel {
  readonly state: string;
  readonly image: number | undefined;
  readonly committed: number;
}
interface Model {
  readonly records: Readonly<Record<string, string>>;
  readonly slots: Readonly<Record<SlotId, SlotModel>>;
}

const slotArb = fc.constantFrom<SlotId>('A', 'B');
const nameArb = fc.constantFrom('boot-state', 'key-ring', 'counter');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('put'),
      name: nameArb,
      value: fc.string({ maxLength: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete'), name: nameArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('begin'),
      slot: slotArb,
      image: fc.nat(1),
      resume: fc.boolean(),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('append'),
      slot: slotArb,
      length: fc.integer({ min: 1, max: 4000 }),
      backoff: fc.nat(1200),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('complete'), slot: slotArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('verify'), slot: slotArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('erase'), slot: slotArb }) },
);
const outcomeArb: fc.Arbitrary<PowerCutOutcome> = fc.oneof(
  fc.constant({ kind: 'synced-only' } as const),
  fc.constant({ kind: 'everything' } as const),
  fc.record({ kind: fc.constant('torn' as const), seed: fc.nat() }),
);
const stepArb = fc.record({
  op: opArb,
  // a cut in one step of four, so writes get far enough between cuts
  cut: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.record({ afterSteps: fc.nat(12), outcome: outcomeArb }) },
  ),
});

/** Appends and completions go to the drawn slot if it has a writer, else to the other one. */
function writingSlot(op: { slot: SlotId }, writers: ReadonlySet<SlotId>): SlotId | undefined {
  if (writers.has(op.slot)) return op.slot;
  const other = op.slot === 'A' ? 'B' : 'A';
  return writers.has(other) ? other : undefined;
}

/** The append an intent resolves to, or undefined when it would not be a valid call. */
function appendRange(slot: SlotModel, op: { length: number; backoff: number }) {
  if (slot.state !== 'writing' || slot.image === undefined) return undefined;
  const total = (IMAGES[slot.image] as Uint8Array).length;
  const offset = Math.max(0, slot.committed - op.backoff);
  const end = Math.min(total, offset + op.length);
  return end > offset ? { offset, end } : undefined;
}

/** The model after `op` succeeds; undefined when the op is skipped as invalid here. */
function apply(model: Model, op: Op, writers: ReadonlySet<SlotId>): Model | undefined {
  const withSlot = (slot: SlotId, next: SlotModel): Model => ({
    ...model,
    slots: { ...model.slots, [slot]: next },
  });
  switch (op.kind) {
    case 'put':
      return { ...model, records: { ...model.records, [op.name]: op.value } };
    case 'delete': {
      const { [op.name]: _gone, ...rest } = model.records;
      return { ...model, records: rest };
    }
    case 'begin': {
      const slot = model.slots[op.slot];
      const same = op.resume && slot.image === op.image;
      if (same && (slot.state === 'writing' || slot.state === 'complete')) return model;
      return withSlot(op.slot, { state: 'writing', image: op.image, committed: 0 });
    }
    case 'append': {
      const id = writingSlot(op, writers);
      const slot = id && model.slots[id];
      const range = slot && appendRange(slot, op);
      if (!id || !slot || !range) return undefined;
      return withSlot(id, { ...slot, committed: Math.max(slot.committed, range.end) });
    }
    case 'complete': {
      const id = writingSlot(op, writers);
      const slot = id && model.slots[id];
      if (!id || !slot || slot.state !== 'writing' || slot.image === undefined) return undefined;
      if (slot.committed !== (IMAGES[slot.image] as Uint8Array).length) return undefined;
      return withSlot(id, { ...slot, state: 'complete' });
    }
    case 'verify': {
      const slot = model.slots[op.slot];
      if (slot.state !== 'complete') return undefined;
      return withSlot(op.slot, { ...slot, state: 'verified' });
    }
    case 'erase':
      return withSlot(op.slot, { state: 'empty', image: undefined, committed: 0 });
  }
}

async function run(storage: ModuleStorage, op: Op, writers: Map<SlotId, SlotWriter>, model: Model) {
  switch (op.kind) {
    case 'put':
      return storage.records.put(op.name, new TextEncoder().encode(op.value));
    case 'delete':
      return storage.records.delete(op.name);
    case 'begin': {
      const image = IMAGES[op.image] as Uint8Array;
      writers.delete(op.slot);
      const writer = await storage.slots.beginWrite(op.slot, identityOf(image), op);
      writers.set(op.slot, writer);
      return;
    }
    case 'append': {
      const id = writingSlot(op, new Set(writers.keys())) as SlotId;
      const slot = model.slots[id];
      const range = appendRange(slot, op) as { offset: number; end: number };
      const bytes = (IMAGES[slot.image as number] as Uint8Array).subarray(range.offset, range.end);
      return writers.get(id)?.append(range.offset, bytes);
    }
    case 'complete':
      return writers.get(writingSlot(op, new Set(writers.keys())) as SlotId)?.complete();
    case 'verify':
      return storage.slots.setSlotState(op.slot, {
        state: 'verified',
        version: VERSION,
        securityCounter: 1,
      });
    case 'erase':
      writers.delete(op.slot);
      return storage.slots.eraseSlot(op.slot);
  }
}

/** What the storage shows, in the model's terms; image bytes are checked on the way. */
async function observe(storage: ModuleStorage): Promise<Model> {
  const records: Record<string, string> = {};
  for (const name of await storage.records.list()) {
    records[name] = new TextDecoder().decode(await storage.records.get(name));
  }
  const slots = {} as Record<SlotId, SlotModel>;
  for (const slot of ['A', 'B'] as const) {
    const info = await storage.slots.info(slot);
    const hash = info.imageSha256 && toHex(info.imageSha256);
    const image = hash === undefined ? undefined : HASHES.indexOf(hash);
    const bytes = await collect(storage.slots.readSlot(slot));
    const expected = image === undefined ? new Uint8Array(0) : (IMAGES[image] as Uint8Array);
    expect(bytesEqual(bytes, expected.subarray(0, info.committedOffset))).toBe(true);
    slots[slot] = { state: info.state, image, committed: info.committedOffset };
  }
  return { records, slots };
}

describe('storage under random operations and power cuts', () => {
  it('always shows the state before or after the operation that was cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 5, maxLength: 40, size: 'max' }),
        async (steps) => {
          let flash = new SimulatedFlash();
          let ops = new CuttingFileOps(flash);
          let storage = await openModuleStorage(ROOT, { fileOps: ops });
          const writers = new Map<SlotId, SlotWriter>();
          const empty: SlotModel = { state: 'empty', image: undefined, committed: 0 };
          let model: Model = { records: {}, slots: { A: empty, B: empty } };

          for (const { op, cut } of steps) {
            const next = apply(model, op, new Set(writers.keys()));
            if (next === undefined) continue;
            if (cut === null) {
              await run(storage, op, writers, model);
              model = next;
              continue;
            }
            ops.arm(cut.afterSteps);
            try {
              await run(storage, op, writers, model);
            } catch (error) {
              if (!(error instanceof PowerCut)) throw error;
            }
            const acknowledged = !ops.wasCut;
            flash = flash.powerCut(cut.outcome);
            ops = new CuttingFileOps(flash);
            storage = await openModuleStorage(ROOT, { fileOps: ops });
            writers.clear();
            const seen = await observe(storage);
            expect(acknowledged ? [next] : [model, next]).toContainEqual(seen);
            model = seen;
            // As the flash service would on reconnecting: resume the writes that were under way.
            for (const [slot, { state, image }] of Object.entries(model.slots)) {
              if (state !== 'writing' || image === undefined) continue;
              const identity = identityOf(IMAGES[image] as Uint8Array);
              writers.set(slot as SlotId, await storage.slots.beginWrite(slot as SlotId, identity));
            }
          }
          expect(await observe(storage)).toEqual(model);
        },
      ),
      { numRuns: 200 },
    );
  });
});
