import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ATT_MTU_MAX,
  ATT_MTU_MIN,
  KEY_LINK_MAX_MESSAGE_SIZE,
  KeyLinkChunker,
  KeyLinkReassembler,
  chunkKeyLinkMessage,
  chunkSizeForMtu,
} from './framing.js';

const messageArb = fc.uint8Array({ minLength: 1, maxLength: KEY_LINK_MAX_MESSAGE_SIZE });
const mtuArb = fc.integer({ min: ATT_MTU_MIN, max: ATT_MTU_MAX });

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

describe('chunkKeyLinkMessage', () => {
  it('prefixes the length little-endian and cuts MTU-3 byte chunks', () => {
    const message = Uint8Array.from({ length: 40 }, (_, i) => i);
    const chunks = chunkKeyLinkMessage(message, 23);
    expect(chunks.map((c) => c.length)).toEqual([20, 20, 2]);
    expect([...(chunks[0] as Uint8Array).subarray(0, 4)]).toEqual([40, 0, 0, 1]);
    expect(concat(chunks)).toEqual(concat([new Uint8Array([40, 0]), message]));
  });

  it('never exceeds the 512-byte attribute value limit, even at MTU 517', () => {
    expect(chunkSizeForMtu(23)).toBe(20);
    expect(chunkSizeForMtu(185)).toBe(182);
    expect(chunkSizeForMtu(515)).toBe(512);
    expect(chunkSizeForMtu(517)).toBe(512);
    const chunks = chunkKeyLinkMessage(new Uint8Array(1000).fill(1), 517);
    expect(chunks.map((c) => c.length)).toEqual([512, 490]);
  });

  it('refuses what a correct sender never sends', () => {
    expect(() => chunkKeyLinkMessage(new Uint8Array(0), 23)).toThrow(RangeError);
    expect(() => chunkKeyLinkMessage(new Uint8Array(4097), 23)).toThrow(RangeError);
    expect(() => chunkKeyLinkMessage(new Uint8Array(1), 22)).toThrow(RangeError);
    expect(() => new KeyLinkChunker(20)).toThrow(RangeError);
  });

  it('the chunker follows an MTU exchange', () => {
    const chunker = new KeyLinkChunker();
    expect(chunker.chunkSize).toBe(20);
    chunker.mtu = 247;
    expect(chunker.chunkSize).toBe(244);
    expect(chunker.chunk(new Uint8Array(300)).map((c) => c.length)).toEqual([244, 58]);
    expect(() => (chunker.mtu = 10)).toThrow(RangeError);
    expect(chunker.mtu).toBe(247);
  });
});

describe('KeyLinkReassembler', () => {
  it('round-trips any message at any MTU from 23 to 517', () => {
    fc.assert(
      fc.property(messageArb, mtuArb, (message, mtu) => {
        const chunks = chunkKeyLinkMessage(message, mtu);
        const size = chunkSizeForMtu(mtu);
        expect(chunks.slice(0, -1).every((chunk) => chunk.length === size)).toBe(true);
        expect((chunks.at(-1) as Uint8Array).length).toBeLessThanOrEqual(size);
        const reassembler = new KeyLinkReassembler();
        const received = chunks.flatMap((chunk) => reassembler.push(chunk));
        expect(received).toEqual([message]);
        expect(reassembler.pending).toBe(false);
        expect(reassembler.stats.errors).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('reads consecutive messages however the stream is split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (messages, cuts) => {
          const stream = concat(messages.flatMap((m) => chunkKeyLinkMessage(m, 23)));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort(
            (a, b) => a - b,
          );
          const reassembler = new KeyLinkReassembler();
          const received: Uint8Array[] = [];
          let start = 0;
          for (const point of [...points, stream.length]) {
            received.push(...reassembler.push(stream.subarray(start, point)));
            start = point;
          }
          expect(received).toEqual(messages);
        },
      ),
    );
  });

  it('never throws on garbage, keeps memory bounded and its counters consistent', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 30 }), (chunks) => {
        const reassembler = new KeyLinkReassembler({ maxMessageSize: 512 });
        let receivedBytes = 0;
        for (const chunk of chunks) {
          for (const message of reassembler.push(chunk)) {
            expect(message.length).toBeGreaterThan(0);
            expect(message.length).toBeLessThanOrEqual(512);
            receivedBytes += message.length + 2;
          }
        }
        reassembler.reset();
        const { stats } = reassembler;
        expect(stats.errors).toBe(
          stats.errorsBy['empty-message'] + stats.errorsBy['too-long'] + stats.errorsBy.truncated,
        );
        const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        expect(receivedBytes + stats.bytesDiscarded).toBeLessThanOrEqual(total);
      }),
    );
  });

  it('skips a too-long message without buffering it, then reads the next one', () => {
    const reassembler = new KeyLinkReassembler();
    const declared = KEY_LINK_MAX_MESSAGE_SIZE + 1;
    const oversized = concat([
      new Uint8Array([declared & 0xff, declared >> 8]),
      new Uint8Array(declared),
    ]);
    const next = new Uint8Array([1, 2, 3]);
    const out = [
      ...reassembler.push(oversized.subarray(0, 100)),
      ...reassembler.push(concat([oversized.subarray(100), ...chunkKeyLinkMessage(next, 23)])),
    ];
    expect(out).toEqual([next]);
    expect(reassembler.stats.errorsBy['too-long']).toBe(1);
    expect(reassembler.stats.bytesDiscarded).toBe(declared + 2);
  });

  it('counts a zero length prefix and goes on', () => {
    const reassembler = new KeyLinkReassembler();
    expect(reassembler.push(new Uint8Array([0, 0, 1, 0, 42]))).toEqual([new Uint8Array([42])]);
    expect(reassembler.stats.errorsBy['empty-message']).toBe(1);
  });

  it('drops a partial message on reset (disconnect) and starts clean', () => {
    const reassembler = new KeyLinkReassembler();
    const [first] = chunkKeyLinkMessage(new Uint8Array(100).fill(9), 23);
    expect(reassembler.push(first as Uint8Array)).toEqual([]);
    expect(reassembler.pending).toBe(true);
    reassembler.reset();
    expect(reassembler.pending).toBe(false);
    expect(reassembler.stats.errorsBy.truncated).toBe(1);
    expect(reassembler.stats.bytesDiscarded).toBe(20);
    const message = new Uint8Array([5, 6, 7]);
    expect(chunkKeyLinkMessage(message, 23).flatMap((c) => reassembler.push(c))).toEqual([message]);
    expect(reassembler.stats.messagesReassembled).toBe(1);
  });

  it('ignores empty writes', () => {
    const reassembler = new KeyLinkReassembler();
    expect(reassembler.push(new Uint8Array(0))).toEqual([]);
    expect(reassembler.stats).toMatchObject({ errors: 0, bytesDiscarded: 0 });
  });
});
