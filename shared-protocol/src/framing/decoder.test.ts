import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Frame, FrameDecoderStats } from './index.js';
import { FRAME_OVERHEAD, FrameDecoder, encodeFrame } from './index.js';
import { cobsEncodeInto, cobsMaxEncodedLength } from './cobs.js';

// Payloads that exercise COBS edge cases: random bytes, long zero-free runs (254-byte blocks) and
// zero-heavy data.
const payloadArb = fc.oneof(
  fc.uint8Array({ maxLength: 700 }),
  fc.uint8Array({ min: 1, max: 255, minLength: 240, maxLength: 800 }),
  fc.uint8Array({ min: 0, max: 2, maxLength: 300 }),
);
const frameArb: fc.Arbitrary<Frame> = fc.record({
  type: fc.nat(255),
  seq: fc.nat(0xffff),
  payload: payloadArb,
});
const garbageArb = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.uint8Array({ min: 1, max: 255, maxLength: 600 }), // no delimiter at all
  fc.uint8Array({ min: 0, max: 3, maxLength: 100 }), // many delimiters and short codes
);
const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Pushes `bytes` split at the given cut points (taken modulo the length) and collects frames. */
function decodeSplit(decoder: FrameDecoder, bytes: Uint8Array, cuts: readonly number[]): Frame[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const frames: Frame[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    frames.push(...decoder.push(bytes.subarray(start, point)));
    start = point;
  }
  return frames;
}

/** Wire bytes for arbitrary decoded content, CRC not added: for building damaged frames. */
function wireOf(decoded: readonly number[]): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(decoded.length) + 2);
  const end = cobsEncodeInto(Uint8Array.from(decoded), out, 1);
  return out.slice(0, end + 1);
}

const countNonZero = (bytes: Uint8Array): number =>
  bytes.reduce((n, b) => n + (b === 0 ? 0 : 1), 0);

function expectConsistent(stats: FrameDecoderStats): void {
  const { droppedBy } = stats;
  expect(stats.framesDropped).toBe(
    droppedBy['crc-mismatch'] +
      droppedBy['cobs-invalid'] +
      droppedBy['too-short'] +
      droppedBy['too-long'],
  );
}

describe('FrameDecoder', () => {
  it('round-trips any frames, concatenated and split at any boundaries', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 6 }), cutsArb, (frames, cuts) => {
        const decoder = new FrameDecoder();
        const wire = concat(frames.map((frame) => encodeFrame(frame)));
        expect(decodeSplit(decoder, wire, cuts)).toEqual(frames);
        expect(decoder.stats).toEqual({
          framesDecoded: frames.length,
          framesDropped: 0,
          droppedBy: { 'crc-mismatch': 0, 'cobs-invalid': 0, 'too-short': 0, 'too-long': 0 },
          bytesDiscarded: 0,
        });
      }),
    );
  });

  it('round-trips byte by byte', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const decoder = new FrameDecoder();
        const decoded: Frame[] = [];
        for (const byte of encodeFrame(frame)) decoded.push(...decoder.push(Uint8Array.of(byte)));
        expect(decoded).toEqual([frame]);
      }),
    );
  });

  it('accepts a frame of exactly maxFrameSize and drops one byte more as too-long', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const size = frame.payload.length + FRAME_OVERHEAD;
        const wire = encodeFrame(frame, { maxFrameSize: size });
        expect(new FrameDecoder({ maxFrameSize: size }).push(wire)).toEqual([frame]);
        if (size === FRAME_OVERHEAD) return; // no smaller limit is allowed
        const tight = new FrameDecoder({ maxFrameSize: size - 1 });
        expect(tight.push(wire)).toEqual([]);
        expect(tight.stats.droppedBy['too-long']).toBe(1);
      }),
    );
  });

  it('never throws on arbitrary bytes, whatever maxFrameSize, and keeps its counters consistent', () => {
    const maxFrameSizeArb = fc.oneof(fc.integer({ min: 7, max: 40 }), fc.constant(16384));
    fc.assert(
      fc.property(garbageArb, cutsArb, maxFrameSizeArb, (garbage, cuts, maxFrameSize) => {
        const decoder = new FrameDecoder({ maxFrameSize });
        expect(() => decodeSplit(decoder, garbage, cuts)).not.toThrow();
        const stats = decoder.stats;
        expectConsistent(stats);
        expect(stats.bytesDiscarded).toBeLessThanOrEqual(countNonZero(garbage));
      }),
    );
  });

  it('recovers every valid frame after garbage before and between frames', () => {
    const itemArb = fc.record({ garbage: garbageArb, frame: frameArb });
    fc.assert(
      fc.property(fc.array(itemArb, { minLength: 1, maxLength: 5 }), cutsArb, (items, cuts) => {
        const wire = concat(items.flatMap(({ garbage, frame }) => [garbage, encodeFrame(frame)]));
        const decoder = new FrameDecoder();
        expect(decodeSplit(decoder, wire, cuts)).toEqual(items.map(({ frame }) => frame));
        expectConsistent(decoder.stats);
      }),
    );
  });

  it('rejects any single flipped bit and keeps the damage to that frame', () => {
    const caseArb = fc.array(frameArb, { minLength: 1, maxLength: 4 }).chain((frames) =>
      fc.record({
        frames: fc.constant(frames),
        victim: fc.nat(frames.length - 1),
        position: fc.nat(),
        bit: fc.nat(7),
      }),
    );
    fc.assert(
      fc.property(caseArb, cutsArb, ({ frames, victim, position, bit }, cuts) => {
        const encoded = frames.map((frame) => encodeFrame(frame));
        const damaged = encoded[victim] as Uint8Array;
        const index = position % damaged.length;
        damaged[index] = (damaged[index] as number) ^ (1 << bit);
        const decoder = new FrameDecoder();
        const decoded = decodeSplit(decoder, concat(encoded), cuts);
        expect(decoded).toEqual(frames.filter((_, k) => k !== victim));
        // The victim is dropped, unless it is the last frame and lost its closing delimiter,
        // in which case it is still waiting for one.
        const stillOpen = victim === frames.length - 1 && index === damaged.length - 1;
        if (!stillOpen) expect(decoder.stats.framesDropped).toBeGreaterThanOrEqual(1);
        expectConsistent(decoder.stats);
      }),
    );
  });

  it('drops a too-long frame as soon as it exceeds the limit and recovers the next frame', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 7, max: 300 }),
        fc.integer({ min: 1, max: 400 }),
        frameArb,
        (maxFrameSize, excess, next) => {
          const longPayload = new Uint8Array(maxFrameSize - FRAME_OVERHEAD + excess).fill(0x5a);
          const long = encodeFrame(
            { type: 1, seq: 2, payload: longPayload },
            { maxFrameSize: 1e6 },
          );
          const decoder = new FrameDecoder({ maxFrameSize });
          // Dropped before its closing delimiter arrives: the decoder does not buffer it.
          expect(decoder.push(long.subarray(0, -1))).toEqual([]);
          expect(decoder.stats.droppedBy['too-long']).toBe(1);
          expect(decoder.stats.bytesDiscarded).toBe(long.length - 2);

          const nextWire = encodeFrame(next, { maxFrameSize: 1e6 });
          const fits = next.payload.length + FRAME_OVERHEAD <= maxFrameSize;
          expect(decoder.push(concat([long.subarray(-1), nextWire]))).toEqual(fits ? [next] : []);
          expect(decoder.stats.droppedBy['too-long']).toBe(fits ? 1 : 2);
        },
      ),
    );
  });

  it('resynchronises after a too-long run of garbage without a delimiter', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 64 });
    const frame = { type: 7, seq: 0xbeef, payload: Uint8Array.of(1, 0, 2) };
    expect(decoder.push(new Uint8Array(10_000).fill(0xff))).toEqual([]);
    expect(decoder.push(encodeFrame(frame))).toEqual([frame]);
    expect(decoder.stats.droppedBy['too-long']).toBe(1);
    expect(decoder.stats.bytesDiscarded).toBe(10_000);
  });

  it('counts each drop reason and the discarded bytes', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 16 });
    const good = { type: 3, seq: 4, payload: Uint8Array.of(5) };
    const goodWire = encodeFrame(good);
    const badCrc = goodWire.slice();
    badCrc[2] = (badCrc[2] as number) ^ 0x40; // the type byte: still non-zero, CRC now wrong
    const cases: { wire: Uint8Array; discarded: number }[] = [
      { wire: Uint8Array.of(0, 0, 0, 0), discarded: 0 }, // empty frames: not drops
      { wire: badCrc, discarded: badCrc.length - 2 }, // crc-mismatch
      { wire: Uint8Array.of(0, 5, 0x11, 0), discarded: 2 }, // cobs-invalid: code points past 0x00
      { wire: wireOf([1, 2, 3, 4, 5, 6]), discarded: 7 }, // too-short: 6 decoded bytes
      { wire: wireOf(new Array<number>(17).fill(9)), discarded: 18 }, // too-long: 17 > 16
      { wire: goodWire, discarded: 0 },
    ];
    const decoded: Frame[] = [];
    let discarded = 0;
    for (const { wire, discarded: bytes } of cases) {
      decoded.push(...decoder.push(wire));
      discarded += bytes;
      expect(decoder.stats.bytesDiscarded).toBe(discarded);
    }
    expect(decoded).toEqual([good]);
    expect(decoder.stats).toEqual({
      framesDecoded: 1,
      framesDropped: 4,
      droppedBy: { 'crc-mismatch': 1, 'cobs-invalid': 1, 'too-short': 1, 'too-long': 1 },
      bytesDiscarded: discarded,
    });
  });

  it('returns stats as a snapshot', () => {
    const decoder = new FrameDecoder();
    const before = decoder.stats;
    decoder.push(Uint8Array.of(0, 5, 0x11, 0));
    expect(before.framesDropped).toBe(0);
    expect(decoder.stats.framesDropped).toBe(1);
    decoder.stats.droppedBy['cobs-invalid'] = 99;
    expect(decoder.stats.droppedBy['cobs-invalid']).toBe(1);
  });

  it('returns payloads that the caller owns', () => {
    const decoder = new FrameDecoder();
    const first = { type: 1, seq: 1, payload: Uint8Array.of(1, 2, 3) };
    const [decoded] = decoder.push(encodeFrame(first));
    decoder.push(encodeFrame({ type: 2, seq: 2, payload: Uint8Array.of(9, 9, 9) }));
    expect(decoded).toEqual(first);
    expect(decoded?.payload.buffer.byteLength).toBe(3);
  });

  it('decodes a frame without a leading delimiter at the start of the stream', () => {
    const frame = { type: 9, seq: 300, payload: Uint8Array.of(0, 0, 1) };
    expect(new FrameDecoder().push(encodeFrame(frame).subarray(1))).toEqual([frame]);
  });

  it('reset() abandons a partial frame, keeps the counters and decodes the next frame', () => {
    const decoder = new FrameDecoder();
    const frame = { type: 1, seq: 2, payload: Uint8Array.of(3, 4, 5, 6) };
    decoder.push(Uint8Array.of(0, 0x55)); // a frame that a good frame has completed before
    decoder.reset();
    const wire = encodeFrame(frame);
    const partial = wire.subarray(0, 6);
    expect(decoder.push(partial)).toEqual([]);
    decoder.reset();
    expect(decoder.push(wire)).toEqual([frame]);
    expect(decoder.stats.framesDecoded).toBe(1);
    expect(decoder.stats.framesDropped).toBe(0);
    expect(decoder.stats.bytesDiscarded).toBe(1 + countNonZero(partial));
  });

  it('accepts an empty chunk', () => {
    expect(new FrameDecoder().push(new Uint8Array(0))).toEqual([]);
  });
});
