import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@mini-sharing/shared-protocol/clock';
import { LogLevel } from '@mini-sharing/shared-protocol/messages';
import { RecordStore } from '../storage/index.js';
import {
  DEFAULT_READ_ENTRIES,
  FLUSH_DELAY_MS,
  LOG_CAPACITY,
  LOG_SEGMENTS,
  MAX_MESSAGE_LENGTH,
  ModuleLog,
} from './module-log.js';
import { openServiceKit } from './service-test-kit.js';

let dir: string;
let records: RecordStore;
/** Timers of the batched writes, moved by hand. */
let timers: ManualClock;
const T0 = Date.UTC(2026, 0, 1);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'module-log-'));
  records = await RecordStore.open(dir);
  timers = new ManualClock(T0);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const open = () => ModuleLog.open(records, { now: () => timers.now(), timers });
/** Lets pending writes (real file system) finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 30));
const sequences = (log: ModuleLog, from = 0, max = 0) =>
  log.read(from, max).entries.map((e) => e.sequence);

/** Every entry from `from` on, page by page as a host reads them. */
function readAll(log: ModuleLog, from = 0) {
  const all: number[] = [];
  for (let next = from; ;) {
    const page = log.read(next, 0);
    if (page.entries.length === 0) return { all, next };
    all.push(...page.entries.map((e) => e.sequence));
    next = page.nextSequence;
  }
}

describe('module log', () => {
  it('numbers entries from 1 and reads them in order, in pages', async () => {
    const log = await open();
    for (let i = 0; i < 100; i++) log.append('info', 'test', `line ${i}`);
    const first = log.read(0, 0);
    expect(first.entries).toHaveLength(DEFAULT_READ_ENTRIES);
    expect(first.entries[0]).toEqual({
      sequence: 1,
      timeMs: T0,
      level: 'info',
      component: 'test',
      message: 'line 0',
    });
    expect(first.nextSequence).toBe(DEFAULT_READ_ENTRIES + 1);
    expect(sequences(log, 98, 10)).toEqual([98, 99, 100]);
    expect(readAll(log).all).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // Nothing newer: next_sequence stays where the host asked.
    expect(log.read(101, 5)).toEqual({ entries: [], nextSequence: 101 });
  });

  it('stays bounded: old entries give way, and the gap shows what was dropped', async () => {
    const log = await open();
    for (let i = 0; i < 3 * LOG_CAPACITY; i++) log.append('debug', 'test', `line ${i}`);
    expect(log.entryCount).toBeLessThanOrEqual(LOG_CAPACITY);
    expect(log.entryCount).toBeGreaterThan(LOG_CAPACITY - 64);
    const { all, next } = readAll(log, 1);
    expect(next).toBe(3 * LOG_CAPACITY + 1);
    // The host asked from 1; the first entry it gets tells how many were dropped before it.
    expect(all[0]).toBeGreaterThan(1);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => (all[0] ?? 0) + i));
    await log.flush();
    const stored = (await records.list()).filter((name) => name.startsWith('log-'));
    expect(stored).toHaveLength(LOG_SEGMENTS);
  });

  it('clips long lines and keeps answers within a frame', async () => {
    const log = await open();
    log.append('info', 'c'.repeat(100), 'x'.repeat(5000));
    const [entry] = log.read(0, 0).entries;
    expect(entry?.message).toHaveLength(MAX_MESSAGE_LENGTH);
    expect(entry?.message.endsWith('…')).toBe(true);
    expect(entry?.component.length).toBeLessThanOrEqual(32);
    for (let i = 0; i < 200; i++) log.append('info', 'test', 'é'.repeat(MAX_MESSAGE_LENGTH));
    // 200 long lines do not fit one 16 KiB frame: the answer is shorter than asked.
    const page = log.read(0, 200);
    expect(page.entries.length).toBeLessThan(200);
    expect(page.entries.length).toBeGreaterThan(5);
  });

  it('survives a restart, and numbering goes on from where it was', async () => {
    const log = await open();
    log.append('info', 'firmware', 'one');
    log.append('info', 'firmware', 'two');
    await log.close();
    const again = await open();
    expect(again.read(0, 0).entries.map((e) => [e.sequence, e.message])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
    expect(again.append('info', 'firmware', 'three').sequence).toBe(3);
  });

  it('writes info lines in batches, warnings and errors at once', async () => {
    const log = await open();
    log.append('info', 'test', 'batched');
    await settle();
    expect(await records.list()).toEqual([]); // a power cut now loses this info line
    timers.advance(FLUSH_DELAY_MS);
    await settle();
    expect(await records.list()).toEqual(['log-0']);
    timers.advance(FLUSH_DELAY_MS);
    log.append('error', 'test', 'at once');
    await settle();
    const lost = await open(); // the power is cut: what does the flash hold?
    expect(lost.read(0, 0).entries.map((e) => e.message)).toEqual(['batched', 'at once']);
  });

  it('writes at most once per batch interval, however many warnings arrive', async () => {
    const log = await open();
    let puts = 0;
    const put = records.put.bind(records);
    records.put = (name, value) => {
      puts += 1;
      return put(name, value);
    };
    // 60 warnings fill one block: one write at once, then one batch for the rest.
    for (let i = 0; i < 60; i++) {
      log.append('warn', 'service', `flashBegin refused (AUTHORIZATION_REQUIRED) ${i}`);
      if (i % 20 === 0) await settle();
    }
    await settle();
    expect(puts).toBe(1);
    timers.advance(FLUSH_DELAY_MS);
    await settle();
    expect(puts).toBe(2);
    expect((await open()).read(0, 0).entries).toHaveLength(60);
  });

  it('never hands out a number a host has read for another entry after a power cut', async () => {
    const kit = await openServiceKit();
    try {
      kit.log.append('info', 'test', 'seen by the host');
      const read = await kit.host.request('logRead', { fromSequence: 0n, maxEntries: 0 });
      const seen = read.entries.at(-1);
      expect(seen?.message).toBe('seen by the host');
      expect(seen?.level).toBe(LogLevel.INFO);
      kit.log.append('info', 'test', 'not yet written when the power goes');
      // Power cut: reopen from what the flash holds, without closing.
      const reopened = await ModuleLog.open(kit.storage.records, { now: () => 0 });
      const next = reopened.append('info', 'test', 'after the cut');
      expect(next.sequence).toBe(Number(seen?.sequence) + 1);
      expect(reopened.read(Number(seen?.sequence), 0).entries.map((e) => e.message)).toEqual([
        'seen by the host',
        'after the cut',
      ]);
    } finally {
      await kit.close();
    }
  });

  it('a factory reset clears it, leaving one note, and numbering still rises', async () => {
    const log = await open();
    for (let i = 0; i < 150; i++) log.append('info', 'test', `line ${i}`);
    await log.clear('service', 'factory reset');
    expect(log.read(0, 0).entries.map((e) => [e.sequence, e.message])).toEqual([
      [151, 'factory reset'],
    ]);
    const again = await open();
    expect(again.read(0, 0).entries.map((e) => e.sequence)).toEqual([151]);
    expect(again.append('info', 'firmware', 'up').sequence).toBe(152);
  });

  it('skips a damaged segment, says so, and goes on', async () => {
    const log = await open();
    for (let i = 0; i < 70; i++) log.append('info', 'test', `line ${i}`);
    await log.close();
    await records.put('log-0', new TextEncoder().encode('{"block": "zero"}'));
    const again = await open();
    const entries = again.read(0, 0).entries;
    expect(entries[0]?.sequence).toBe(65); // block 0 (1..64) is gone, block 1 is there
    expect(entries.at(-1)).toMatchObject({
      sequence: 71,
      level: 'warn',
      message: expect.stringMatching(/log segment unreadable: log-0/),
    });
  });

  it('answers log_read over the service link with the firmware handlers', async () => {
    const kit = await openServiceKit();
    try {
      for (let i = 0; i < 10; i++) kit.log.append('info', 'test', `line ${i}`);
      const page = await kit.host.request('logRead', { fromSequence: 3n, maxEntries: 4 });
      expect(page.entries.map((e) => [Number(e.sequence), e.message])).toEqual([
        [3, 'line 2'],
        [4, 'line 3'],
        [5, 'line 4'],
        [6, 'line 5'],
      ]);
      expect(page.nextSequence).toBe(7n);
      const rest = await kit.host.request('logRead', { fromSequence: 11n, maxEntries: 0 });
      expect(rest).toMatchObject({ entries: [], nextSequence: 11n });
    } finally {
      await kit.close();
    }
  });
});
