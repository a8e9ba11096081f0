import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordStore } from '../storage/index.js';
import { CommandMemory } from './command-memory.js';
import { Outbox } from './outbox.js';

let dir: string;
let records: RecordStore;
const payload = (n: number) => new Uint8Array([n, n, n]);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloud-link-outbox-'));
  records = await RecordStore.open(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const contents = (outbox: Outbox) =>
  outbox.entries.map((e) => [e.topic, e.timeMs, [...e.payload][0]]);

describe('Outbox', () => {
  it('keeps reports in order across a reopen and forgets them once acknowledged', async () => {
    const outbox = await Outbox.open(records, { nowMs: 0 });
    await outbox.add('events', payload(1), 1000);
    await outbox.add('command-results', payload(2), 2000);
    await outbox.add('events', payload(3), 3000);
    await outbox.remove(outbox.entries[0]!.seq);

    const reopened = await Outbox.open(await RecordStore.open(dir), { nowMs: 0 });
    expect(contents(reopened)).toEqual([
      ['command-results', 2000, 2],
      ['events', 3000, 3],
    ]);
    // New reports go after the ones already queued.
    await reopened.add('events', payload(4), 4000);
    expect(reopened.entries.map((e) => e.seq)).toEqual([2, 3, 4]);
  });

  it('when full, drops the oldest and counts them until the cloud was told', async () => {
    const outbox = await Outbox.open(records, { capacity: 2, nowMs: 0 });
    for (let n = 1; n <= 5; n++) await outbox.add('events', payload(n), n * 1000);
    expect(contents(outbox).map((c) => c[2])).toEqual([4, 5]);
    expect(outbox.dropped).toMatchObject({ count: 3, firstDroppedMs: 1000, lastDroppedMs: 3000 });

    const reopened = await Outbox.open(await RecordStore.open(dir), { capacity: 2, nowMs: 0 });
    expect(reopened.dropped?.count).toBe(3);
    await reopened.reportedDropped(3);
    expect(reopened.dropped).toBeUndefined();
    expect((await Outbox.open(records, { capacity: 2, nowMs: 0 })).dropped).toBeUndefined();
  });

  it('a report counted as dropped but left by a power cut is gone after reopening', async () => {
    const outbox = await Outbox.open(records, { capacity: 2, nowMs: 0 });
    await outbox.add('events', payload(1), 1000);
    await outbox.add('events', payload(2), 2000);
    // As if the cut came between counting report 1 as dropped and deleting it.
    await records.putJson(
      'link-out-lost',
      { count: 1, firstDroppedMs: 1000, lastDroppedMs: 1000, throughSeq: 1 },
      (v): v is object => typeof v === 'object',
    );
    const reopened = await Outbox.open(await RecordStore.open(dir), { capacity: 2, nowMs: 0 });
    expect(contents(reopened).map((c) => c[2])).toEqual([2]);
    expect(reopened.dropped?.count).toBe(1);
  });

  it('counts a damaged report as dropped instead of sending it', async () => {
    const outbox = await Outbox.open(records, { nowMs: 0 });
    await outbox.add('events', payload(1), 1000);
    await outbox.add('events', payload(2), 2000);
    await writeFile(join(dir, 'link-out-000000000001.rec'), 'rotten');
    const reopened = await Outbox.open(await RecordStore.open(dir), { nowMs: 5000 });
    expect(contents(reopened).map((c) => c[2])).toEqual([2]);
    expect(reopened.dropped).toMatchObject({ count: 1, firstDroppedMs: 5000 });
  });
});

describe('CommandMemory', () => {
  const id = (n: number) => new Uint8Array(16).fill(n);

  it('remembers ids and applied state across a reopen, until they expire', async () => {
    const memory = await CommandMemory.open(records);
    await memory.remember(id(1), { issuedAtMs: 100, expiresAtMs: 1000 }, 100);
    await memory.markApplied(['booking'], 100);
    const reopened = await CommandMemory.open(await RecordStore.open(dir));
    expect(reopened.isReplay(id(1), 100)).toBe(true);
    expect(reopened.isReplay(id(2), 100)).toBe(false);
    expect(reopened.lastApplied('booking')).toBe(100);
    expect(reopened.lastApplied('revocation-list')).toBeUndefined();
    // Expired ids are forgotten (their envelopes are refused as expired anyway).
    await reopened.remember(id(2), { issuedAtMs: 1500, expiresAtMs: 2000 }, 1500);
    expect(reopened.size).toBe(1);
  });

  it('when full of live ids, forgets the oldest and refuses anything issued before it', async () => {
    const memory = await CommandMemory.open(records, 2);
    for (let n = 1; n <= 3; n++) {
      await memory.remember(id(n), { issuedAtMs: n * 100, expiresAtMs: 10_000 }, n * 100);
    }
    expect(memory.size).toBe(2);
    const reopened = await CommandMemory.open(await RecordStore.open(dir), 2);
    expect(reopened.isReplay(id(9), 100)).toBe(true);
    expect(reopened.isReplay(id(9), 101)).toBe(false);
    expect(reopened.isReplay(id(3), 300)).toBe(true);
  });
});
