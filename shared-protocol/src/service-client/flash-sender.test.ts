import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../clock/index.js';
import { bytesEqual } from '../crypto/bytes.js';
import { Compression, ErrorCode } from '../messages/index.js';
import { inflateRawSegments } from './compression.js';
import { ServiceClientError } from './errors.js';
import { newFakeModuleState, startFakeModule } from './fake-module.js';
import { FlashSender, type FlashProgress } from './flash-sender.js';
import { ServiceClient } from './service-client.js';
import { Speedometer } from './speedometer.js';

const CHUNK = 256;
const SEGMENT = 4096;

function makeImage(size: number): Uint8Array {
  const image = new Uint8Array(size);
  for (let i = 0; i < size; i++) image[i] = (i * 31 + (i >> 8)) & 0xff;
  return image;
}

/** Runs of text-like bytes and of noise; `textShare` of each 512 bytes compresses well. */
function mixedImage(size: number, textShare = 0.7): Uint8Array {
  const image = new Uint8Array(size);
  let seed = 12345;
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    image[i] = i % 512 < 512 * textShare ? 'firmware '.charCodeAt(i % 9) : seed >>> 24;
  }
  return image;
}

function connect(fake: ReturnType<typeof startFakeModule>) {
  return new ServiceClient({ session: fake.host, clock: systemClock, host: 'test' });
}

describe('FlashSender', () => {
  it('flashes byte-exact and re-sends only the chunks whose response was lost', async () => {
    const lost = new Set([CHUNK * 3, CHUNK * 10, CHUNK * 11]);
    // drop every attempt the session makes (1 + 2 retries), so the sender has to re-send
    const drops = new Map<number, number>();
    const fake = startFakeModule({
      dropResponse: (offset) => {
        if (!lost.has(offset)) return false;
        const count = (drops.get(offset) ?? 0) + 1;
        drops.set(offset, count);
        return count <= 3;
      },
    });
    const client = connect(fake);
    await client.connect();
    const image = makeImage(CHUNK * 20 + 77);
    const sender = new FlashSender(client);
    const result = await sender.flash(image, { chunkSize: CHUNK, window: 8 });

    expect(bytesEqual(fake.state.image ?? new Uint8Array(), image)).toBe(true);
    expect(fake.state.verified).toBe(true);
    expect(result.begin.window).toBe(4); // the module lowered the window
    expect(result.stats.chunksResent).toBe(lost.size);
    const expected = Array.from({ length: 21 }, (_, i) => i * CHUNK);
    const counts = new Map<number, number>();
    for (const offset of sender.sentOffsets) counts.set(offset, (counts.get(offset) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(expected);
    for (const offset of expected) expect(counts.get(offset)).toBe(lost.has(offset) ? 2 : 1);
    expect(fake.state.writes).toBe(21); // duplicates acknowledged, never written twice
    expect(result.activate?.trialSlot).toBeDefined();
  });

  it('reports monotonic progress that ends at 100 %', async () => {
    const fake = startFakeModule();
    const client = connect(fake);
    await client.connect();
    const image = makeImage(CHUNK * 12 + 5);
    const reports: FlashProgress[] = [];
    await new FlashSender(client).flash(image, {
      chunkSize: CHUNK,
      onProgress: (p) => reports.push(p),
    });
    expect(reports.length).toBeGreaterThan(10);
    for (let i = 1; i < reports.length; i++) {
      const [before, now] = [reports[i - 1], reports[i]];
      expect(now?.bytesCommitted).toBeGreaterThanOrEqual(before?.bytesCommitted ?? 0);
      expect(now?.bytesSent).toBeGreaterThanOrEqual(before?.bytesSent ?? 0);
      expect(now?.percent).toBeGreaterThanOrEqual(before?.percent ?? 0);
    }
    expect(reports.at(-1)).toMatchObject({
      bytesSent: image.length,
      bytesCommitted: image.length,
      total: image.length,
      percent: 100,
    });
  });

  it('cancels mid-flash, stays resumable, and a resume sends only the remainder', async () => {
    const state = newFakeModuleState();
    const fake = startFakeModule({ state });
    const client = connect(fake);
    await client.connect();
    const image = makeImage(CHUNK * 40);
    const controller = new AbortController();
    const first = new FlashSender(client);
    const error = await first
      .flash(image, {
        chunkSize: CHUNK,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.bytesCommitted >= image.length / 2) controller.abort();
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceClientError);
    expect(error).toMatchObject({ failure: 'cancelled', next: 'resume' });
    const committed = state.committed;
    expect(committed).toBeGreaterThanOrEqual(image.length / 2);
    expect(committed).toBeLessThan(image.length);
    expect(state.verified).toBe(false);

    const second = new FlashSender(client);
    const result = await second.flash(image, { chunkSize: CHUNK, resume: true });
    expect(result.startOffset).toBe(committed);
    expect(Math.min(...second.sentOffsets)).toBe(committed);
    expect(second.sentOffsets.length).toBe((image.length - committed) / CHUNK);
    expect(bytesEqual(state.image ?? new Uint8Array(), image)).toBe(true);
  });

  it('resumes from the committed offset after the cable was unplugged', async () => {
    const state = newFakeModuleState();
    const fake = startFakeModule({ state });
    const client = connect(fake);
    await client.connect();
    const image = makeImage(CHUNK * 30);
    const error = await new FlashSender(client)
      .flash(image, {
        chunkSize: CHUNK,
        onProgress: (p) => {
          if (p.bytesCommitted >= CHUNK * 10) fake.hostEnd.close();
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ failure: 'disconnected', next: 'resume' });
    expect((error as Error).message).toMatch(/Reconnect it, then Resume/);

    const again = startFakeModule({ state }); // a new port and session, same module memory
    const client2 = connect(again);
    await client2.connect();
    const sender = new FlashSender(client2);
    const result = await sender.flash(image, { chunkSize: CHUNK, resume: true });
    expect(result.startOffset).toBeGreaterThanOrEqual(CHUNK * 10);
    expect(sender.sentOffsets.every((offset) => offset >= result.startOffset)).toBe(true);
    expect(bytesEqual(state.image ?? new Uint8Array(), image)).toBe(true);
  });

  it('gives up with a resumable timeout when the module stops answering and is not paused', async () => {
    const fake = startFakeModule({ dropResponse: (offset) => offset >= CHUNK * 4 });
    const sender = new FlashSender(connect(fake));
    const error = await sender
      .flash(makeImage(CHUNK * 10), { chunkSize: CHUNK, maxResends: 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ failure: 'timeout', next: 'resume' });
    expect((error as Error).message).toMatch(/Check the cable, then Resume/);
    expect(fake.state.committed).toBeGreaterThanOrEqual(CHUNK * 4);
  });

  it('maps a low supply to the charger advice and sends no data', async () => {
    const state = newFakeModuleState();
    state.supplyMillivolts = 12_100;
    const fake = startFakeModule({ state });
    const client = connect(fake);
    await client.connect();
    const sender = new FlashSender(client);
    const error = await sender.flash(makeImage(1000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceClientError);
    expect(error).toMatchObject({
      code: ErrorCode.SUPPLY_VOLTAGE_LOW,
      action: 'Connect the charger (13.0 V or more), then Retry.',
      next: 'retry',
    });
    expect((error as Error).message).toMatch(/12\.1 V/);
    expect(sender.sentOffsets).toEqual([]);
  });
});

describe('FlashSender during a supply sag', () => {
  it('waits while the module is paused and completes after it resumes', async () => {
    const state = newFakeModuleState();
    const fake = startFakeModule({ state });
    const image = makeImage(CHUNK * 24);
    const reports: FlashProgress[] = [];
    let release = () => {};
    const sender = new FlashSender(connect(fake));
    const result = await sender.flash(image, {
      chunkSize: CHUNK,
      maxResends: 1,
      pausePollMs: 20,
      onProgress: (p) => {
        reports.push(p);
        // the supply recovers once the host has seen the pause
        if (p.paused) setTimeout(release, 30);
        else if (p.bytesCommitted >= CHUNK * 8 && !state.paused && !reports.some((r) => r.paused)) {
          const until = new Promise<void>((resolve) => {
            release = () => {
              state.paused = undefined;
              resolve();
            };
          });
          state.paused = { until };
        }
      },
    });
    const paused = reports.filter((r) => r.paused);
    expect(paused.length).toBeGreaterThan(0);
    expect(paused[0]?.paused).toEqual({ reason: 'supply below 13.0 V', supplyMillivolts: 12_400 });
    expect(result.end.firmwareVersion).toBe('1.5.0');
    expect(bytesEqual(state.image ?? new Uint8Array(), image)).toBe(true);
    expect(reports.at(-1)?.percent).toBe(100);
  });
});

describe('FlashSender with compression', () => {
  it('sends a raw-deflate stream the module inflates to the exact image', async () => {
    const fake = startFakeModule();
    const client = connect(fake);
    const image = new Uint8Array(CHUNK * 40).map((_, i) => (i % 97 < 60 ? 0xff : i & 0x0f));
    const sender = new FlashSender(client);
    const result = await sender.flash(image, { chunkSize: CHUNK, compression: 'deflate' });
    expect(result.compression).toBe('deflate');
    expect(result.transferSize).toBeLessThan(image.length / 2);
    expect(sender.sentOffsets.length).toBe(Math.ceil(result.transferSize / CHUNK));
    expect(bytesEqual(fake.state.flashed ?? new Uint8Array(), image)).toBe(true);
  });

  it('falls back to an uncompressed transfer when the module cannot inflate', async () => {
    const state = newFakeModuleState();
    state.acceptsDeflate = false;
    const fake = startFakeModule({ state });
    const image = makeImage(CHUNK * 5);
    const result = await new FlashSender(connect(fake)).flash(image, {
      chunkSize: CHUNK,
      compression: 'deflate',
    });
    expect(result).toMatchObject({
      compression: 'none',
      transferSize: image.length,
      segmentSize: undefined,
    });
    expect(state.lastBegin).toMatchObject({
      compression: Compression.NONE,
      transferSize: image.length,
      segmentSize: 0,
      segmentTransferSizes: [],
    });
    expect(bytesEqual(state.flashed ?? new Uint8Array(), image)).toBe(true);
  });

  it('announces independent segments: their sizes add up to the stream and each inflates alone', async () => {
    const state = newFakeModuleState();
    const fake = startFakeModule({ state });
    const image = mixedImage(SEGMENT * 9 + 1234);
    const result = await new FlashSender(connect(fake)).flash(image, {
      chunkSize: CHUNK,
      compression: 'deflate',
      segmentSize: SEGMENT,
    });
    const begin = state.lastBegin;
    expect(begin).toMatchObject({
      compression: Compression.DEFLATE,
      imageSize: image.length,
      segmentSize: SEGMENT,
      transferSize: result.transferSize,
    });
    const sizes = begin?.segmentTransferSizes ?? [];
    expect(sizes).toHaveLength(10);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(result.transferSize);
    const segments = await inflateRawSegments(state.image ?? new Uint8Array(), sizes);
    expect(segments.map((segment) => segment.length)).toEqual([...Array(9).fill(SEGMENT), 1234]);
    expect(result.segmentSize).toBe(SEGMENT);
    expect(bytesEqual(state.flashed ?? new Uint8Array(), image)).toBe(true);
  });

  it('keeps the window going from what was received while the module commits whole segments', async () => {
    // incompressible segments: each one (about 4 KiB compressed) is larger than the window of
    // 4 x 256 bytes, so a sender waiting on the committed offset would stall mid-segment
    const state = newFakeModuleState();
    const fake = startFakeModule({ state });
    const image = mixedImage(SEGMENT * 6, 0);
    const reports: FlashProgress[] = [];
    const result = await new FlashSender(connect(fake)).flash(image, {
      chunkSize: CHUNK,
      window: 4,
      compression: 'deflate',
      segmentSize: SEGMENT,
      onProgress: (p) => reports.push(p),
    });
    const starts = [0];
    for (const size of state.segmentTransferSizes) starts.push((starts.at(-1) ?? 0) + size);
    expect(Math.min(...state.segmentTransferSizes)).toBeGreaterThan(4 * CHUNK);
    expect(reports.every((p) => starts.includes(p.bytesCommitted))).toBe(true);
    expect(result.stats.chunksResent).toBe(0);
    expect(bytesEqual(state.flashed ?? new Uint8Array(), image)).toBe(true);
  });

  it('resumes a compressed transfer after an unplug from the last whole segment', async () => {
    const state = newFakeModuleState();
    const fake = startFakeModule({ state });
    const image = mixedImage(SEGMENT * 12);
    const options = { chunkSize: CHUNK, compression: 'deflate', segmentSize: SEGMENT } as const;
    const error = await new FlashSender(connect(fake))
      .flash(image, {
        ...options,
        onProgress: (p) => {
          if (p.bytesCommitted >= p.total / 2) fake.hostEnd.close();
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ failure: 'disconnected', next: 'resume' });
    const committed = state.committed;

    const again = startFakeModule({ state });
    const sender = new FlashSender(connect(again));
    const result = await sender.flash(image, { ...options, resume: true });
    expect(result.startOffset).toBe(committed);
    const starts = [0];
    for (const size of state.segmentTransferSizes) starts.push((starts.at(-1) ?? 0) + size);
    expect(committed).toBeGreaterThan(0);
    expect(starts).toContain(committed);
    expect(Math.min(...sender.sentOffsets)).toBe(committed);
    expect(bytesEqual(state.flashed ?? new Uint8Array(), image)).toBe(true);
  });
});

describe('Speedometer', () => {
  it('measures over the last few seconds only', () => {
    const clock = new ManualClock(0);
    const speed = new Speedometer(3000);
    expect(speed.bytesPerSecond).toBe(0);
    for (let t = 0; t <= 10_000; t += 500) {
      // 1000 B/s for 6 s, then 4000 B/s
      const bytes = t <= 6000 ? t : 6000 + (t - 6000) * 4;
      clock.advance(t - clock.now());
      speed.sample(clock.now(), bytes);
    }
    expect(speed.bytesPerSecond).toBeCloseTo(4000, 0);
  });
});
