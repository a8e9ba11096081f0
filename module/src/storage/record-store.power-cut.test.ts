/**
 * A power cut after every mutating step of record updates, under every survival outcome: the
 * reopened store holds the old or the new value, never a torn one, reports no damage, keeps every
 * acknowledged update and leaves no temp file behind.
 */
import { describe, expect, it } from 'vitest';
import { RecordStore } from './record-store.js';
import type { CutPoint } from './testing/index.js';
import { SimulatedFlash, cutAtEveryStep, describeCut } from './testing/index.js';

const DIR = '/flash/records';
const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

async function baseWith(records: Record<string, string>): Promise<SimulatedFlash> {
  const flash = new SimulatedFlash();
  const store = await RecordStore.open(DIR, { fileOps: flash });
  for (const [name, value] of Object.entries(records)) await store.put(name, utf8(value));
  return flash;
}

/** Every record's value after the cut; a damaged record fails the test. */
async function survivors(after: SimulatedFlash): Promise<Record<string, string | undefined>> {
  const store = await RecordStore.open(DIR, { fileOps: after });
  const found: Record<string, string | undefined> = {};
  for (const name of await store.list()) found[name] = text(await store.get(name));
  expect((await after.readdir(DIR)).filter((file) => file.endsWith('.tmp'))).toEqual([]);
  return found;
}

interface Tracked {
  readonly store: RecordStore;
  /** Index of the last update that resolved. */
  acked: number;
}

async function sweep(
  initial: Record<string, string>,
  updates: ReadonlyArray<(store: RecordStore) => Promise<unknown>>,
  /** The records after the first `applied` updates. */
  stateAfter: (applied: number) => Record<string, string>,
): Promise<number> {
  return cutAtEveryStep<Tracked>({
    base: await baseWith(initial),
    open: async (fileOps) => ({ store: await RecordStore.open(DIR, { fileOps }), acked: 0 }),
    operation: async (tracked) => {
      for (const update of updates) {
        await update(tracked.store);
        tracked.acked++;
      }
    },
    check: async (after, cut: CutPoint, tracked) => {
      const found = await survivors(after);
      // Old or new: what the acknowledged updates made, or that plus the one in flight.
      const allowed = [stateAfter(tracked.acked)];
      if (!cut.acknowledged) allowed.push(stateAfter(tracked.acked + 1));
      expect(allowed, describeCut(cut)).toContainEqual(found);
    },
  });
}

describe('record updates under a power cut at every step', () => {
  const initial = { 'key-ring': 'ring v1', 'boot-state': 'A' };

  it('replacing a record', async () => {
    const steps = await sweep(initial, [(s) => s.put('key-ring', utf8('ring v2'))], (n) =>
      n === 0 ? initial : { ...initial, 'key-ring': 'ring v2' },
    );
    expect(steps).toBe(5);
  });

  it('adding a record', async () => {
    await sweep(initial, [(s) => s.put('certificate', utf8('cert'))], (n) =>
      n === 0 ? initial : { ...initial, certificate: 'cert' },
    );
  });

  it('deleting a record', async () => {
    await sweep(initial, [(s) => s.delete('boot-state')], (n) =>
      n === 0 ? initial : { 'key-ring': 'ring v1' },
    );
  });

  it('a run of updates keeps every acknowledged one', async () => {
    const states = [
      initial,
      { ...initial, 'key-ring': 'ring v2' },
      { ...initial, 'key-ring': 'ring v2', counter: '1' },
      { 'key-ring': 'ring v2', counter: '1' },
      { 'key-ring': 'ring v3', counter: '1' },
    ];
    const steps = await sweep(
      initial,
      [
        (s) => s.put('key-ring', utf8('ring v2')),
        (s) => s.put('counter', utf8('1')),
        (s) => s.delete('boot-state'),
        (s) => s.put('key-ring', utf8('ring v3')),
      ],
      (n) => states[n] as Record<string, string>,
    );
    expect(steps).toBe(17);
  });
});
