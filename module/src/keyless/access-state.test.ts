// The access state record: what it keeps, what it refuses to read back, and a power cut at every
// step of a save (old state or new, never a mix).
import { describe, expect, it } from 'vitest';
import { HolderRole } from '@mini-sharing/shared-protocol/trust';
import { RecordStore } from '../storage/index.js';
import { SimulatedFlash, cutAtEveryStep, describeCut } from '../storage/testing/index.js';
import {
  ACCESS_STATE_RECORD,
  AccessStateStore,
  MAX_COUNTERS,
  emptyAccessState,
  pruneAccessState,
  type AccessState,
} from './access-state.js';

const DIR = '/flash/records';
const token = (n: number) => n.toString(16).padStart(32, '0');

function fullState(): AccessState {
  return {
    trustedTimeFloorMs: 1_767_225_600_000,
    ownerGeneration: 3,
    revocation: {
      sequence: '18446744073709551615',
      revoked: [{ tokenId: token(1), notAfterMs: 5 }],
    },
    revocationSequenceFloor: '18446744073709551615',
    counters: [{ tokenId: token(2), counter: '42', notAfterMs: 1_767_300_000_000 }],
    runningBooking: {
      bookingId: 'B-1',
      tokenId: token(2),
      role: HolderRole.DRIVER,
      startedAtMs: 1,
      bookingEndMs: 2,
      notAfterMs: 3,
      source: 'first-key-use',
      pendingEnd: 'revoked',
    },
    currentDrive: {
      tokenId: token(2),
      bookingId: 'B-1',
      role: HolderRole.DRIVER,
      notAfterMs: 3,
      enabledAtMs: 1,
      moving: true,
    },
    endedBookings: [{ tokenId: token(3), bookingId: 'B-0', forgetAfterMs: 9 }],
  };
}

describe('access state record', () => {
  it('reads back exactly what it saved, and empty when there is none', async () => {
    const records = await RecordStore.open(DIR, { fileOps: new SimulatedFlash() });
    const store = new AccessStateStore(records);
    expect(await store.load()).toEqual(emptyAccessState());
    await store.save(fullState());
    expect(await new AccessStateStore(records).load()).toEqual(fullState());
  });

  it('starts empty (and says so) from a record of the wrong shape', async () => {
    const records = await RecordStore.open(DIR, { fileOps: new SimulatedFlash() });
    await records.put(ACCESS_STATE_RECORD, new TextEncoder().encode('{"version":1,"counters":7}'));
    const problems: string[] = [];
    expect(await new AccessStateStore(records).load((p) => problems.push(p))).toEqual(
      emptyAccessState(),
    );
    expect(problems).toHaveLength(1);
  });

  it('refuses to store a state it could not read back', async () => {
    const records = await RecordStore.open(DIR, { fileOps: new SimulatedFlash() });
    const bad = { ...fullState(), trustedTimeFloorMs: -1 };
    await expect(new AccessStateStore(records).save(bad)).rejects.toThrow(/bad shape/);
  });

  it('prunes counters of keys the floor has passed, but never the current drive', () => {
    const state = fullState();
    state.trustedTimeFloorMs = 2_000_000_000_000;
    state.counters.push({ tokenId: token(4), counter: '1', notAfterMs: 1 });
    state.counters.push(
      ...Array.from({ length: MAX_COUNTERS + 5 }, (_, i) => ({
        tokenId: token(100 + i),
        counter: '1',
        notAfterMs: 3_000_000_000_000 + i,
      })),
    );
    pruneAccessState(state);
    expect(state.counters).toHaveLength(MAX_COUNTERS);
    expect(state.counters.some((entry) => entry.tokenId === token(2))).toBe(true); // driving
    expect(state.counters.some((entry) => entry.tokenId === token(4))).toBe(false);
    expect(state.endedBookings).toEqual([]);
  });

  it('a power cut at any step of a save leaves the old state or the new one', async () => {
    const flash = new SimulatedFlash();
    const before = { ...emptyAccessState(), ownerGeneration: 1 };
    await new AccessStateStore(await RecordStore.open(DIR, { fileOps: flash })).save(before);
    const after = fullState();
    const steps = await cutAtEveryStep({
      base: flash,
      open: async (fileOps) => new AccessStateStore(await RecordStore.open(DIR, { fileOps })),
      operation: (store) => store.save(after),
      check: async (survived, cut) => {
        const problems: string[] = [];
        const store = new AccessStateStore(await RecordStore.open(DIR, { fileOps: survived }));
        const loaded = await store.load((problem) => problems.push(problem));
        expect(problems, describeCut(cut)).toEqual([]);
        expect(cut.acknowledged ? [after] : [before, after], describeCut(cut)).toContainEqual(
          loaded,
        );
      },
    });
    expect(steps).toBeGreaterThan(3);
  });
});
