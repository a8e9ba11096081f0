/**
 * Deflate-compressed flashing on the module side (PROTOCOL.md section 11): independent segments
 * inflated and written whole, out-of-order chunks, resume after an unplug and after a power cut,
 * resume with another transfer description, malformed segment tables and bad segments refused.
 */
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesEqual, sha256 } from '@mini-sharing/shared-protocol/crypto';
import {
  Compression,
  ErrorCode,
  FlashState,
  type RequestInitOf,
} from '@mini-sharing/shared-protocol/messages';

type BeginInit = RequestInitOf<'flashBegin'>;
import { FlashSender, type FlashOptions } from '@mini-sharing/shared-protocol/service-client';
import { RejectedError, type ServiceSession } from '@mini-sharing/shared-protocol/session';
import { firmwarePayload, openFlashKit, signedImage, type FlashKit } from './flash-test-kit.js';

const SEGMENT = 16 * 1024;
const CHUNK = 1024;

/** The host's side of a segmented transfer, built with node:zlib (the host uses the same format). */
function segmented(image: Uint8Array, segmentSize: number) {
  const segments: Uint8Array[] = [];
  for (let offset = 0; offset < image.length; offset += segmentSize) {
    segments.push(deflateRawSync(image.subarray(offset, offset + segmentSize)));
  }
  return withSegments(image, segmentSize, segments);
}

function withSegments(image: Uint8Array, segmentSize: number, segments: Uint8Array[]) {
  const transfer = new Uint8Array(segments.reduce((sum, s) => sum + s.length, 0));
  const starts = [0];
  for (const segment of segments) {
    transfer.set(segment, starts.at(-1) ?? 0);
    starts.push((starts.at(-1) ?? 0) + segment.length);
  }
  const begin: BeginInit = {
    imageSize: image.length,
    imageSha256: sha256(image),
    compression: Compression.DEFLATE,
    transferSize: transfer.length,
    chunkSize: CHUNK,
    window: 8,
    segmentSize,
    segmentTransferSizes: segments.map((s) => s.length),
  };
  return { transfer, starts, begin };
}

async function refusal(promise: Promise<unknown>): Promise<RejectedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof RejectedError) return error;
  throw new Error(`expected a refusal, got ${String(error)}`);
}

/** Sends chunks [from, to) of `transfer` at once (so they may arrive in any order). */
function sendChunks(host: ServiceSession, transfer: Uint8Array, offsets: number[]) {
  return Promise.all(
    offsets.map((offset) =>
      host.request('flashData', {
        offset,
        data: transfer.subarray(offset, Math.min(offset + CHUNK, transfer.length)),
      }),
    ),
  );
}

const flash = (kit: FlashKit, image: Uint8Array, options: FlashOptions = {}) =>
  new FlashSender(kit.client).flash(image, {
    chunkSize: CHUNK,
    window: 8,
    compression: 'deflate',
    segmentSize: SEGMENT,
    activate: false,
    ...options,
  });

let kit: FlashKit;
let image: Uint8Array;
beforeEach(async () => {
  kit = await openFlashKit();
  image = await signedImage(firmwarePayload(200_000));
});
afterEach(() => kit.close());

describe('compressed flashing', () => {
  it('inflates the segments into the slot: the exact image, verified', async () => {
    const result = await flash(kit, image);
    expect(result.compression).toBe('deflate');
    expect(result.transferSize).toBeLessThan(image.length / 2);
    expect(result.end.firmwareVersion).toBe('1.2.0');
    expect(bytesEqual(await kit.slotBytes(), image)).toBe(true);
    expect(await kit.storage.slots.info('B')).toMatchObject({ state: 'verified' });
  });

  it('takes chunks in any order within the window and commits whole segments only', async () => {
    const { transfer, starts, begin } = segmented(image, SEGMENT);
    await kit.host.request('flashBegin', begin);
    const offsets = Array.from({ length: Math.ceil(transfer.length / CHUNK) }, (_, i) => i * CHUNK);
    for (let group = 0; group < offsets.length; group += 8) {
      // the last chunk of each window first: everything else arrives behind it
      const answers = await sendChunks(
        kit.host,
        transfer,
        offsets.slice(group, group + 8).reverse(),
      );
      for (const answer of answers) expect(starts).toContain(answer.committedOffset);
    }
    const status = await kit.host.request('flashStatus', {});
    expect(status).toMatchObject({
      state: FlashState.RECEIVING,
      transferSize: transfer.length,
      committedOffset: transfer.length,
    });
    expect(await kit.host.request('flashEnd', {})).toMatchObject({ firmwareVersion: '1.2.0' });
    expect(bytesEqual(await kit.slotBytes(), image)).toBe(true);
  });

  it('answers a flash_end sent right behind the last chunks once their segments are written', async () => {
    const { transfer, begin } = segmented(image, SEGMENT);
    await kit.host.request('flashBegin', begin);
    const offsets = Array.from({ length: Math.ceil(transfer.length / CHUNK) }, (_, i) => i * CHUNK);
    const lastGroup = Math.floor((offsets.length - 1) / 8) * 8;
    for (let group = 0; group < lastGroup; group += 8) {
      await sendChunks(kit.host, transfer, offsets.slice(group, group + 8));
    }
    const last = sendChunks(kit.host, transfer, offsets.slice(lastGroup));
    const end = kit.host.request('flashEnd', {});
    await last;
    expect(await end).toMatchObject({ firmwareVersion: '1.2.0' });
  });

  it('refuses a chunk beyond what was received in order plus the window', async () => {
    const { transfer, begin } = segmented(image, SEGMENT);
    await kit.host.request('flashBegin', { ...begin, window: 4 });
    await sendChunks(kit.host, transfer, [0, CHUNK]);
    // received 2 KiB: a chunk may end at 2 KiB + 4 x 1 KiB, not later
    await sendChunks(kit.host, transfer, [5 * CHUNK]);
    const error = await refusal(sendChunks(kit.host, transfer, [6 * CHUNK]));
    expect(error.code).toBe(ErrorCode.FLASH_OFFSET_OUT_OF_RANGE);
  });

  it('resumes in a new session (unplugged) from the last whole segment', async () => {
    let acknowledged = 0;
    const error = await flash(kit, image, {
      onProgress: (p) => {
        acknowledged = p.bytesCommitted;
        if (p.bytesCommitted > p.total / 2) kit.reconnect();
      },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ next: 'resume' });
    const { starts } = segmented(image, SEGMENT);

    const sender = new FlashSender(kit.client);
    const result = await sender.flash(image, {
      chunkSize: CHUNK,
      compression: 'deflate',
      segmentSize: SEGMENT,
      resume: true,
      activate: false,
    });
    expect(result.startOffset).toBeGreaterThanOrEqual(acknowledged);
    expect(starts).toContain(result.startOffset);
    expect(Math.min(...sender.sentOffsets)).toBe(result.startOffset);
    expect(bytesEqual(await kit.slotBytes(), image)).toBe(true);
  });

  it.each([
    { kind: 'synced-only' } as const,
    { kind: 'everything' } as const,
    { kind: 'torn', seed: 7 } as const,
  ])('resumes after a power cut ($kind) from a segment boundary', async (outcome) => {
    let acknowledged = 0;
    const error = await flash(kit, image, {
      onProgress: (p) => {
        acknowledged = p.bytesCommitted;
        if (p.bytesCommitted > p.total / 3) kit.cutPower();
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    await kit.restart(outcome);
    const { starts, transfer } = segmented(image, SEGMENT);
    const status = await kit.host.request('flashStatus', {});
    // after the restart flash_status still counts transfer bytes (a recorded description)
    expect(status).toMatchObject({ state: FlashState.RECEIVING, transferSize: transfer.length });
    expect(status.committedOffset).toBeGreaterThanOrEqual(acknowledged);

    const result = await flash(kit, image, { resume: true });
    expect(result.startOffset).toBe(status.committedOffset);
    expect(starts).toContain(result.startOffset);
    expect(bytesEqual(await kit.slotBytes(), image)).toBe(true);
  });

  it('resumes with another compression or segment size without mixing transfers', async () => {
    const interrupt = (options: FlashOptions, share: number) =>
      flash(kit, image, {
        ...options,
        onProgress: (p) => {
          if (p.bytesCommitted > p.total * share) kit.reconnect();
        },
      }).catch((e: unknown) => e);

    await interrupt({}, 0.3);
    const written = await kit.storage.slots.committedOffset('B');
    expect(written % SEGMENT).toBe(0);
    // uncompressed now: it goes on from the image bytes written
    await interrupt({ compression: 'none', resume: true }, 0.6);
    const raw = await kit.storage.slots.committedOffset('B');
    expect(raw).toBeGreaterThan(written);
    // segments of 12 KiB now: from the last of their boundaries at or below the bytes written
    const other = 12 * 1024;
    const result = await flash(kit, image, { segmentSize: other, resume: true });
    const { starts } = segmented(image, other);
    expect(result.startOffset).toBe(starts[Math.floor(raw / other)]);
    expect(bytesEqual(await kit.slotBytes(), image)).toBe(true);
  });

  it('refuses a wrong image as soon as the first segment is in', async () => {
    const foreign = await signedImage(firmwarePayload(200_000), { unknownKey: true });
    const sender = new FlashSender(kit.client);
    const error = await sender
      .flash(foreign, { chunkSize: CHUNK, compression: 'deflate', segmentSize: SEGMENT })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.IMAGE_SIGNATURE_INVALID });
    const { transfer } = segmented(foreign, SEGMENT);
    expect(Math.max(...sender.sentOffsets)).toBeLessThan(transfer.length / 2);
    expect(await kit.storage.slots.info('B')).toMatchObject({ state: 'invalid' });
  });
});

describe('compressed flashing refuses', () => {
  it('malformed segment tables, and changes nothing', async () => {
    // an interrupted transfer in the slot, which a refused flash_begin must leave alone
    const { transfer, begin } = segmented(image, SEGMENT);
    await kit.host.request('flashBegin', begin);
    await sendChunks(kit.host, transfer, [0, CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK, 5 * CHUNK]);
    await sendChunks(kit.host, transfer, [6 * CHUNK, 7 * CHUNK, 8 * CHUNK]);
    const before = await kit.snapshot();
    const sizes = begin.segmentTransferSizes ?? [];
    const count = sizes.length;
    const cases: Array<[BeginInit, RegExp, ErrorCode?]> = [
      [{ segmentSize: 0 }, /segment_size 0 is outside/],
      [{ segmentSize: 1000 }, /segment_size 1000 is outside/],
      [{ segmentSize: 4 * 1024 * 1024 }, /segment_size 4194304 is outside/],
      [{ segmentTransferSizes: sizes.slice(1) }, new RegExp(`lists ${count - 1} segments`)],
      [{ segmentTransferSizes: [...sizes, 10] }, new RegExp(`lists ${count + 1} segments`)],
      [{ transferSize: transfer.length + 1 }, /add up to \d+ bytes, not transfer_size/],
      [{ segmentTransferSizes: [0, ...sizes.slice(1)] }, /Segment 0 is announced as 0 bytes/],
      [
        { segmentTransferSizes: [SEGMENT * 2, ...sizes.slice(1)] },
        /Segment 0 is announced as 32768 bytes/,
      ],
      [{ compression: Compression.NONE }, /belong to deflate transfers only/],
      [{ compression: 7 as Compression }, /Compression 7 is not supported/, ErrorCode.UNSUPPORTED],
    ];
    for (const [change, message, code = ErrorCode.BAD_REQUEST] of cases) {
      const error = await refusal(
        kit.host.request('flashBegin', { ...begin, ...change, resume: true }),
      );
      expect({ code: ErrorCode[error.code], message: error.moduleMessage }).toEqual({
        code: ErrorCode[code],
        message: expect.stringMatching(message),
      });
    }
    expect(await kit.snapshot()).toEqual(before);
    // and the transfer that was under way goes on
    const rest = Array.from(
      { length: Math.ceil(transfer.length / CHUNK) - 9 },
      (_, i) => (i + 9) * CHUNK,
    );
    for (let i = 0; i < rest.length; i += 8) {
      await sendChunks(kit.host, transfer, rest.slice(i, i + 8));
    }
    expect(await kit.host.request('flashEnd', {})).toMatchObject({ firmwareVersion: '1.2.0' });
  });

  const segmentOf = (index: number) => image.subarray(index * SEGMENT, (index + 1) * SEGMENT);
  it.each([
    ['garbage', () => new Uint8Array(300).fill(0xff), /is not a deflate stream/],
    ['a short segment', () => deflateRawSync(segmentOf(1).subarray(1)), /inflates to 16383 bytes/],
    [
      'a long segment',
      () => deflateRawSync(new Uint8Array(10 * SEGMENT)),
      /inflates to more than its 16384 image bytes/,
    ],
    [
      'a stream that ends early',
      () => {
        const real = deflateRawSync(segmentOf(1));
        const padded = new Uint8Array(real.length + 3);
        padded.set(real);
        return padded;
      },
      /ends after \d+ of its \d+ bytes/,
    ],
  ])('%s: the segment is dropped, the slot stays at its start', async (_name, bad, message) => {
    const segments = Array.from({ length: Math.ceil(image.length / SEGMENT) }, (_, i) =>
      i === 1 ? bad() : deflateRawSync(segmentOf(i)),
    );
    const { transfer, starts, begin } = withSegments(image, SEGMENT, segments);
    await kit.host.request('flashBegin', begin);
    const offsets = Array.from({ length: Math.ceil(transfer.length / CHUNK) }, (_, i) => i * CHUNK);
    let error: RejectedError | undefined;
    for (let i = 0; i < offsets.length && !error; i += 4) {
      error = await refusal(sendChunks(kit.host, transfer, offsets.slice(i, i + 4))).catch(
        () => undefined,
      );
    }
    expect(error?.code).toBe(ErrorCode.IMAGE_HASH_MISMATCH);
    expect(error?.moduleMessage).toMatch(message);
    expect(error?.moduleMessage).toMatch(/Segment 1 .*dropped/);
    expect(await kit.storage.slots.committedOffset('B')).toBe(SEGMENT);
    expect((await kit.host.request('flashStatus', {})).committedOffset).toBe(starts[1]);
    expect(await refusal(kit.host.request('flashEnd', {}))).toMatchObject({
      code: ErrorCode.IMAGE_INCOMPLETE,
    });
    // a resume with the right segments completes the image
    const result = await flash(kit, image, { resume: true });
    expect(result.startOffset).toBe(segmented(image, SEGMENT).starts[1]);
    expect(bytesEqual(await kit.slotBytes(), image)).toBe(true);
  });
});

describe('compressed flashing refuses, several segments in one chunk', () => {
  it('drops a bad segment and those completed with it, and answers the chunk once', async () => {
    // segments 2 and 3 are zeros: a few bytes each, so one chunk ends segments 1, 2 and 3
    const payload = new Uint8Array(100_000);
    payload.set(firmwarePayload(32_000));
    const zeros = await signedImage(payload);
    const segments = Array.from({ length: Math.ceil(zeros.length / SEGMENT) }, (_, i) =>
      i === 1
        ? new Uint8Array(20).fill(0xfe)
        : deflateRawSync(zeros.subarray(i * SEGMENT, (i + 1) * SEGMENT)),
    );
    const { transfer, starts, begin } = withSegments(zeros, SEGMENT, segments);
    expect(Math.floor(starts[1]! / CHUNK)).toBe(Math.floor((starts[4]! - 1) / CHUNK));
    await kit.host.request('flashBegin', begin);
    const offsets = Array.from({ length: Math.ceil(transfer.length / CHUNK) }, (_, i) => i * CHUNK);
    const answers = await Promise.allSettled(
      offsets.map((offset) =>
        kit.host.request('flashData', { offset, data: transfer.subarray(offset, offset + CHUNK) }),
      ),
    );
    const refused = answers.filter((answer) => answer.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(String(refused[0]?.reason)).toMatch(/Segment 1 .*dropped/);
    expect(await kit.storage.slots.committedOffset('B')).toBe(SEGMENT);
  });
});

describe('compressed flashing, property', () => {
  it('any segment size, chunk size, chunk order, repeats and unplugs give the exact image', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          payloadLength: fc.integer({ min: 1, max: 90_000 }),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
          textShare: fc.double({ min: 0, max: 1, noNaN: true }),
          segmentSize: fc.integer({ min: 4096, max: 40_000 }),
          chunkSize: fc.integer({ min: 64, max: 4096 }),
          window: fc.integer({ min: 1, max: 16 }),
          orderSeed: fc.integer({ min: 0, max: 1 << 30 }),
          unplugAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
        }),
        async (run) => {
          const local = await openFlashKit();
          try {
            const want = await signedImage(
              firmwarePayload(run.payloadLength, run.seed, run.textShare),
            );
            const { transfer, starts, begin } = segmented(want, run.segmentSize);
            const request = { ...begin, chunkSize: run.chunkSize, window: run.window };
            let random = run.orderSeed;
            const next = () => (random = (Math.imul(random, 48271) + 11) >>> 0);
            let from = (await local.host.request('flashBegin', request)).committedOffset;
            let unplugged = run.unplugAt === null;
            while (from < transfer.length) {
              const group: number[] = [];
              for (let i = 0; i < run.window; i++) {
                const offset = from + i * run.chunkSize;
                if (offset < transfer.length) group.push(offset);
              }
              // shuffled, plus a repeat of one of them
              group.sort(() => (next() & 1 ? 1 : -1));
              group.push(group[next() % group.length] ?? from);
              const answers = await Promise.all(
                group.map((offset) =>
                  local.host.request('flashData', {
                    offset,
                    data: transfer.subarray(offset, offset + run.chunkSize),
                  }),
                ),
              );
              for (const answer of answers) expect(starts).toContain(answer.committedOffset);
              from += run.window * run.chunkSize;
              if (!unplugged && from >= transfer.length * (run.unplugAt ?? 0)) {
                unplugged = true;
                local.reconnect();
                const resumed = await local.host.request('flashBegin', {
                  ...request,
                  resume: true,
                });
                expect(starts).toContain(resumed.committedOffset);
                from = resumed.committedOffset;
              }
            }
            await local.host.request('flashEnd', {});
            expect(bytesEqual(await local.slotBytes(), want)).toBe(true);
          } finally {
            await local.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});
