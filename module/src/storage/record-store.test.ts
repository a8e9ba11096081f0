import { mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from './errors.js';
import { MAX_RECORD_LENGTH } from './record-format.js';
import { RecordStore } from './record-store.js';
import { CuttingFileOps, SimulatedFlash } from './testing/index.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('RecordStore on the real filesystem', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'records-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('puts, gets, lists and deletes records', async () => {
    const store = await RecordStore.open(join(dir, 'records'));
    expect(await store.get('boot-state')).toBeUndefined();
    await store.put('boot-state', utf8('one'));
    await store.put('boot-state', utf8('two'));
    await store.put('counter', new Uint8Array(0));
    expect(await store.get('boot-state')).toEqual(utf8('two'));
    expect(await store.get('counter')).toEqual(new Uint8Array(0));
    expect(await store.list()).toEqual(['boot-state', 'counter']);
    expect(await store.delete('counter')).toBe(true);
    expect(await store.delete('counter')).toBe(false);
    expect(await store.list()).toEqual(['boot-state']);
    // and it is all on disk for the next store
    const reopened = await RecordStore.open(join(dir, 'records'));
    expect(await reopened.get('boot-state')).toEqual(utf8('two'));
  });

  it.each(['', 'A', 'a.b', '../x', 'a/b', 'x'.repeat(65), 'key ring', 'é'])(
    'refuses the record name %j',
    async (name) => {
      const store = await RecordStore.open(dir);
      await expect(store.put(name, utf8('x'))).rejects.toMatchObject({ code: 'invalid-name' });
      await expect(store.get(name)).rejects.toMatchObject({ code: 'invalid-name' });
      expect(await readdir(dir)).toEqual([]);
    },
  );

  it('refuses a record over the size limit and writes nothing', async () => {
    const store = await RecordStore.open(dir);
    await expect(store.put('big', new Uint8Array(MAX_RECORD_LENGTH + 1))).rejects.toMatchObject({
      code: 'record-too-large',
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    ['a flipped bit', (b: Buffer) => (b[50] = (b[50] as number) ^ 1)],
    ['a flipped header bit', (b: Buffer) => (b[9] = (b[9] as number) ^ 1)],
    ['a torn tail', (b: Buffer) => b.subarray(0, b.length - 3)],
    ['zeros', (b: Buffer) => Buffer.alloc(b.length)],
  ])('reports %s as corrupt, never as a value', async (_what, damage) => {
    const store = await RecordStore.open(dir);
    await store.put('certificate', utf8('a module certificate'));
    const path = join(dir, 'certificate.rec');
    const file = await readFile(path);
    const damaged = damage(file);
    await writeFile(path, Buffer.isBuffer(damaged) ? damaged : file);
    const error = await store.get('certificate').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'corrupt-record' });
    // a new put repairs it
    await store.put('certificate', utf8('fresh'));
    expect(await store.get('certificate')).toEqual(utf8('fresh'));
  });

  it('detects a record file copied under another name', async () => {
    const store = await RecordStore.open(dir);
    await store.put('owner-generation', utf8('7'));
    await rename(join(dir, 'owner-generation.rec'), join(dir, 'security-counter.rec'));
    await expect(store.get('security-counter')).rejects.toMatchObject({ code: 'corrupt-record' });
  });

  it('removes temp files left by a cut at open, and ignores other files', async () => {
    await writeFile(join(dir, 'key-ring.123-4.tmp'), 'half a record');
    await writeFile(join(dir, 'notes.txt'), 'not ours');
    const store = await RecordStore.open(dir);
    expect((await readdir(dir)).sort()).toEqual(['notes.txt']);
    expect(await store.list()).toEqual([]);
  });

  it('stores typed JSON through a validator', async () => {
    interface BootState {
      active: 'A' | 'B';
      attempts: number;
    }
    const isBootState = (value: unknown): value is BootState =>
      typeof value === 'object' &&
      value !== null &&
      ['A', 'B'].includes((value as BootState).active) &&
      Number.isInteger((value as BootState).attempts);
    const store = await RecordStore.open(dir);
    await store.putJson('boot-state', { active: 'B', attempts: 1 }, isBootState);
    expect(await store.getJson('boot-state', isBootState)).toEqual({ active: 'B', attempts: 1 });
    expect(await store.getJson('absent', isBootState)).toBeUndefined();

    const bad = { active: 'C', attempts: 1 } as unknown as BootState;
    await expect(store.putJson('boot-state', bad, isBootState)).rejects.toMatchObject({
      code: 'invalid-record',
    });
    await store.put('boot-state', utf8('{"active":"C","attempts":1}'));
    await expect(store.getJson('boot-state', isBootState)).rejects.toMatchObject({
      code: 'invalid-record',
    });
    await store.put('boot-state', utf8('not json'));
    await expect(store.getJson('boot-state', isBootState)).rejects.toMatchObject({
      code: 'invalid-record',
    });
  });
});

describe('RecordStore durability', () => {
  it('takes the steps temp write, sync, rename, directory sync for a put', async () => {
    const flash = new SimulatedFlash();
    const ops = new CuttingFileOps(flash);
    const store = await RecordStore.open('/flash/records', { fileOps: ops });
    ops.arm();
    await store.put('key-ring', utf8('v1'));
    expect(ops.trace.map((step) => step.split(' ')[0])).toEqual([
      'open',
      'write',
      'sync',
      'rename',
      'sync',
    ]);
    expect(ops.trace[4]).toBe('sync dir /flash/records');
  });

  it('keeps an acknowledged put and delete through a cut that drops everything unsynced', async () => {
    const flash = new SimulatedFlash();
    const store = await RecordStore.open('/flash/records', { fileOps: flash });
    await store.put('a', utf8('kept'));
    await store.put('b', utf8('gone'));
    await store.delete('b');
    const after = await RecordStore.open('/flash/records', {
      fileOps: flash.powerCut({ kind: 'synced-only' }),
    });
    expect(await after.list()).toEqual(['a']);
    expect(await after.get('a')).toEqual(utf8('kept'));
  });

  it('runs concurrent puts one after the other, last one wins', async () => {
    const flash = new SimulatedFlash();
    const store = await RecordStore.open('/flash/records', { fileOps: flash });
    await Promise.all(
      Array.from({ length: 10 }, (_, index) => store.put('counter', utf8(String(index)))),
    );
    expect(await store.get('counter')).toEqual(utf8('9'));
    expect(await flash.readdir('/flash/records')).toEqual(['counter.rec']);
  });
});
