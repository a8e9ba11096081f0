/**
 * Slot append throughput on this disk, 4 KiB chunks, each acknowledged only once durable (the
 * flash service's unit of work). Baseline in the same run: plain pwrite + fdatasync per chunk
 * without the committed-offset record, i.e. what the disk allows for synced 4 KiB writes.
 *
 *   npx tsx module/src/storage/append.bench.ts [--dir <folder on the disk to measure>] [--mib 4]
 * Prints:
 *   storage-append-4k-MBps <n>
 *   storage-raw-fdatasync-4k-MBps <n>
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sha256 } from '@mini-sharing/shared-protocol/crypto';
import { SlotStore } from './slot-store.js';

const CHUNK = 4096;
const { values } = parseArgs({
  options: { dir: { type: 'string' }, mib: { type: 'string', default: '4' } },
});
const total = Math.round(Number(values.mib) * 1024 * 1024);
const image = new Uint8Array(total).map((_, i) => (i * 31) & 0xff);
const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(2);

async function storeAppend(dir: string): Promise<number> {
  const slots = await SlotStore.open(join(dir, 'slots'));
  const writer = await slots.beginWrite('A', { imageSha256: sha256(image), totalLength: total });
  const start = performance.now();
  for (let offset = 0; offset < total; offset += CHUNK) {
    await writer.append(offset, image.subarray(offset, offset + CHUNK));
  }
  const elapsed = performance.now() - start;
  await slots.close();
  return elapsed;
}

async function rawAppend(dir: string): Promise<number> {
  const file = await open(join(dir, 'raw'), 'w');
  const start = performance.now();
  for (let offset = 0; offset < total; offset += CHUNK) {
    await file.write(image, offset, CHUNK, offset);
    await file.datasync();
  }
  const elapsed = performance.now() - start;
  await file.close();
  return elapsed;
}

const dir = await mkdtemp(join(values.dir ?? tmpdir(), 'storage-bench-'));
try {
  const raw = await rawAppend(dir);
  const store = await storeAppend(dir);
  console.log(`storage-append-4k-MBps ${mbps(total, store)}`);
  console.log(`storage-raw-fdatasync-4k-MBps ${mbps(total, raw)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
