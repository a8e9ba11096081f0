import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlotStore } from './slot-store.js';
import type { FileOps, OpenMode } from './file-ops.js';
import { CuttingFileOps, SimulatedFlash, collect, identityOf, testImage } from './testing/index.js';

const ROOT = '/flash/slots';
const image = testImage(10_000, 7);
const other = testImage(6_000, 8);

async function openFresh(): Promise<{ flash: SimulatedFlash; slots: SlotStore }> {
  const flash = new SimulatedFlash();
  return { flash, slots: await SlotStore.open(ROOT, { fileOps: flash }) };
}

async function writeAll(slots: SlotStore, bytes: Uint8Array, chunk = 1024, upTo = bytes.length) {
  const writer = await slots.beginWrite('A', identityOf(bytes));
  for (let offset = writer.committedOffset; offset < upTo; offset += chunk) {
    await writer.append(offset, bytes.subarray(offset, Math.min(offset + chunk, upTo)));
  }
  return writer;
}

describe('SlotStore', () => {
  it('writes an image in chunks, completes it and streams it back', async () => {
    const { slots } = await openFresh();
    expect((await slots.info('A')).state).toBe('empty');
    const writer = await writeAll(slots, image);
    expect(writer.committedOffset).toBe(image.length);
    expect((await slots.info('A')).state).toBe('writing');
    const info = await writer.complete();
    expect(info).toMatchObject({ state: 'complete', committedOffset: 10_000, totalLength: 10_000 });
    expect(await collect(slots.readSlot('A', { chunkSize: 3000 }))).toEqual(image);
    expect(await writer.complete()).toEqual(info); // idempotent
  });

  it('acknowledges a retransmitted chunk without writing it again', async () => {
    const { flash } = await openFresh();
    const ops = new CuttingFileOps(flash);
    const slots = await SlotStore.open(ROOT, { fileOps: ops });
    const writer = await writeAll(slots, image, 1000, 3000);
    ops.arm();
    expect(await writer.append(1000, image.subarray(1000, 2000))).toBe(3000);
    expect(ops.steps).toBe(0);
    // a window that straddles the committed offset: the old part is checked, the rest written
    expect(await writer.append(2500, image.subarray(2500, 4000))).toBe(4000);
    expect(ops.trace.map((step) => step.split(' ')[0])).toEqual(['write', 'sync', 'write', 'sync']);
  });

  it('refuses a retransmit with different bytes, a gap and bytes past the end', async () => {
    const { slots } = await openFresh();
    const writer = await writeAll(slots, image, 1000, 2000);
    const changed = image.slice(1000, 2000);
    changed[10] = (changed[10] as number) ^ 0xff;
    await expect(writer.append(1000, changed)).rejects.toMatchObject({ code: 'data-mismatch' });
    await expect(writer.append(2001, image.subarray(2001, 2100))).rejects.toMatchObject({
      code: 'offset-gap',
    });
    await expect(writer.append(2000, new Uint8Array(8001))).rejects.toMatchObject({
      code: 'beyond-end',
    });
    expect(writer.committedOffset).toBe(2000);
    await expect(writer.complete()).rejects.toMatchObject({ code: 'image-incomplete' });
  });

  it('resumes the same image after a restart, and starts over for another', async () => {
    const { flash, slots } = await openFresh();
    await writeAll(slots, image, 1000, 4000);
    const reopened = await SlotStore.open(ROOT, { fileOps: flash.powerCut() });
    expect(await reopened.committedOffset('A')).toBe(4000);
    const resumed = await reopened.beginWrite('A', identityOf(image));
    expect(resumed.committedOffset).toBe(4000);
    await resumed.append(4000, image.subarray(4000));
    expect((await resumed.complete()).state).toBe('complete');
    // the finished image is not sent again...
    expect((await reopened.beginWrite('A', identityOf(image))).committedOffset).toBe(10_000);
    // ...unless the caller asks for a fresh start, or it is another image
    expect(
      (await reopened.beginWrite('A', identityOf(image), { resume: false })).committedOffset,
    ).toBe(0);
    const fresh = await reopened.beginWrite('A', identityOf(other));
    expect(fresh.committedOffset).toBe(0);
    expect(await reopened.info('A')).toMatchObject({ state: 'writing', totalLength: 6000 });
  });

  it('drops bytes beyond the committed offset when it opens', async () => {
    const { flash, slots } = await openFresh();
    await writeAll(slots, image, 1000, 3000);
    const file = await flash.open(`${ROOT}/a/image`, 'update');
    await file.write(3000, new Uint8Array(500).fill(0xee)); // an append cut before its offset moved
    await file.sync();
    await SlotStore.open(ROOT, { fileOps: flash });
    expect(flash.peek(`${ROOT}/a/image`)?.length).toBe(3000);
  });

  it('marks an image whose bytes do not match its hash invalid', async () => {
    const { slots } = await openFresh();
    const lie = { ...identityOf(image), imageSha256: identityOf(other).imageSha256 };
    const writer = await slots.beginWrite('A', lie);
    await writer.append(0, image);
    await expect(writer.complete()).rejects.toMatchObject({ code: 'image-hash-mismatch' });
    expect((await slots.info('A')).state).toBe('invalid');
    await expect(slots.setSlotState('A', { state: 'trial' })).rejects.toMatchObject({
      code: 'slot-state',
    });
  });

  it('moves a complete slot through verified, trial and confirmed, keeping the version', async () => {
    const { flash, slots } = await openFresh();
    const writer = await writeAll(slots, image);
    await expect(slots.setSlotState('A', { state: 'trial' })).rejects.toMatchObject({
      code: 'slot-state',
    });
    const version = { major: 1, minor: 4, patch: 2 };
    await expect(
      slots.setSlotState('A', { state: 'verified', version, securityCounter: 3 }),
    ).rejects.toMatchObject({ code: 'slot-state' }); // not complete yet
    await writer.complete();
    await slots.setSlotState('A', { state: 'verified', version, securityCounter: 3 });
    await slots.setSlotState('A', { state: 'trial' });
    await slots.setSlotState('A', { state: 'confirmed' });
    const after = await SlotStore.open(ROOT, { fileOps: flash.powerCut() });
    expect(await after.info('A')).toMatchObject({
      state: 'confirmed',
      version,
      securityCounter: 3,
    });
    await after.setSlotState('A', { state: 'invalid', reason: 'self-check failed' });
    expect(await after.info('A')).toMatchObject({ state: 'invalid', reason: 'self-check failed' });
  });

  it('erases a slot and makes its writer stale', async () => {
    const { slots } = await openFresh();
    const writer = await writeAll(slots, image, 1000, 2000);
    await slots.eraseSlot('A');
    expect(await slots.info('A')).toMatchObject({ state: 'empty', committedOffset: 0 });
    await expect(writer.append(2000, image.subarray(2000, 3000))).rejects.toMatchObject({
      code: 'writer-superseded',
    });
    expect(await collect(slots.readSlot('A'))).toEqual(new Uint8Array(0));
  });

  it('fails a read when the slot is rewritten under it', async () => {
    const { slots } = await openFresh();
    await (await writeAll(slots, image)).complete();
    const reader = slots.readSlot('A', { chunkSize: 1000 });
    await reader.next();
    await slots.beginWrite('A', identityOf(other));
    await expect(reader.next()).rejects.toMatchObject({ code: 'slot-changed' });
  });

  it('never opens a file of the other slot while writing one', async () => {
    const flash = new SimulatedFlash();
    const touched: string[] = [];
    const recording: FileOps = {
      ...flash,
      open: (path: string, mode: OpenMode) => (touched.push(path), flash.open(path, mode)),
      readdir: (dir) => (touched.push(dir), flash.readdir(dir)),
      mkdirs: (dir) => (touched.push(dir), flash.mkdirs(dir)),
      rename: (from, to) => (touched.push(from, to), flash.rename(from, to)),
      unlink: (path) => (touched.push(path), flash.unlink(path)),
      syncDir: (dir) => (touched.push(dir), flash.syncDir(dir)),
    };
    const slots = await SlotStore.open(ROOT, { fileOps: recording });
    touched.length = 0;
    const writer = await writeAll(slots, image);
    await writer.complete();
    await slots.setSlotState('A', {
      state: 'verified',
      version: { major: 1, minor: 0, patch: 0 },
      securityCounter: 1,
    });
    await slots.eraseSlot('A');
    expect(touched.length).toBeGreaterThan(0);
    expect(touched.filter((path) => !path.startsWith(`${ROOT}/a`))).toEqual([]);
  });

  it('reports damaged slot metadata as invalid and recovers with a new write', async () => {
    const { flash, slots } = await openFresh();
    await (await writeAll(slots, image)).complete();
    flash.damage(`${ROOT}/a/meta.rec`, (bytes) => ((bytes[60] = (bytes[60] as number) ^ 4), bytes));
    const after = await SlotStore.open(ROOT, { fileOps: flash });
    expect(await after.info('A')).toMatchObject({ state: 'invalid', committedOffset: 0 });
    expect((await after.info('A')).reason).toMatch(/damaged/);
    const writer = await after.beginWrite('A', identityOf(image));
    expect(writer.committedOffset).toBe(0);
    await writer.append(0, image);
    expect((await writer.complete()).state).toBe('complete');
  });

  it('falls back to the previous committed offset when the newest copy is damaged', async () => {
    const { flash, slots } = await openFresh();
    await writeAll(slots, image, 1000, 3000); // offsets 1000, 2000 (sector 0), 3000 (sector 1)
    flash.damage(`${ROOT}/a/progress`, (bytes) => ((bytes[4096 + 20] = 0x55), bytes));
    const after = await SlotStore.open(ROOT, { fileOps: flash });
    expect(await after.committedOffset('A')).toBe(2000);
    expect(flash.peek(`${ROOT}/a/image`)?.length).toBe(2000);
  });

  it('reports a complete image whose offset record is damaged as invalid, bytes untouched', async () => {
    const { flash, slots } = await openFresh();
    await (await writeAll(slots, image, 5000)).complete(); // offset 10000 is in sector 0
    flash.damage(`${ROOT}/a/progress`, (bytes) => ((bytes[20] = (bytes[20] as number) ^ 1), bytes));
    const after = await SlotStore.open(ROOT, { fileOps: flash });
    expect(await after.info('A')).toMatchObject({ state: 'invalid', committedOffset: 5000 });
    expect(flash.peek(`${ROOT}/a/image`)).toEqual(image);
  });

  it('writes and reads both slots on the real filesystem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slots-'));
    try {
      const slots = await SlotStore.open(dir);
      const writer = await slots.beginWrite('B', identityOf(other));
      for (let offset = 0; offset < other.length; offset += 4096) {
        await writer.append(offset, other.subarray(offset, offset + 4096));
      }
      await writer.complete();
      await slots.close();
      const again = await SlotStore.open(dir);
      expect(await again.info('B')).toMatchObject({ state: 'complete', committedOffset: 6000 });
      expect(await collect(again.readSlot('B'))).toEqual(other);
      expect((await again.info('A')).state).toBe('empty');
      await again.close();
      await expect(again.info('A')).rejects.toMatchObject({ code: 'closed' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
