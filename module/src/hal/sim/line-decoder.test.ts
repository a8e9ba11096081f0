import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLine } from './bus-protocol.js';
import type { DecodedLine } from './line-decoder.js';
import { LineDecoder } from './line-decoder.js';

/** Splits bytes at the given cut points (any order, duplicates allowed). */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

function decodeAll(decoder: LineDecoder, chunks: Uint8Array[]): DecodedLine[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('LineDecoder', () => {
  it('reads JSON lines, skips blank ones and takes CRLF', () => {
    const decoder = new LineDecoder();
    expect(decoder.push(utf8('{"a":1}\n\r\n  \n[2]\r\n"x'))).toEqual([
      { ok: true, value: { a: 1 } },
      { ok: true, value: [2] },
    ]);
    expect(decoder.pendingBytes).toBe(2);
    expect(decoder.push(utf8('"\n'))).toEqual([{ ok: true, value: 'x' }]);
  });

  it('reports a line that is not JSON or not UTF-8, and carries on', () => {
    const decoder = new LineDecoder();
    const lines = decoder.push(Uint8Array.of(...utf8('{nope\n'), 0xff, 0xfe, 0x0a, ...utf8('1\n')));
    expect(lines.map((line) => (line.ok ? line.value : line.code))).toEqual([
      'malformed-message',
      'malformed-message',
      1,
    ]);
  });

  it('drops an overlong line as it arrives, reports it once, then reads the next line', () => {
    const decoder = new LineDecoder(16);
    const first = decoder.push(utf8('"0123456789'));
    expect(first).toEqual([]);
    const second = decoder.push(utf8('0123456789'));
    expect(second).toEqual([expect.objectContaining({ ok: false, code: 'line-too-long' })]);
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.push(utf8('x'.repeat(100_000)))).toEqual([]);
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.push(utf8('"\n{"ok":true}\n'))).toEqual([{ ok: true, value: { ok: true } }]);
    expect(decoder.droppedBytes).toBe(11 + 10 + 100_000 + 1);
  });

  it('a line of exactly the cap is read', () => {
    const decoder = new LineDecoder(8);
    expect(decoder.push(utf8('"123456"\n'))).toEqual([{ ok: true, value: '123456' }]);
  });

  it('fuzz: never throws, holds at most the cap, and yields at most one item per line', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 1, max: 300 }),
        (bytes, cuts, cap) => {
          const decoder = new LineDecoder(cap);
          let items = 0;
          for (const chunk of chunked(bytes, cuts)) {
            items += decoder.push(chunk).length;
            expect(decoder.pendingBytes).toBeLessThanOrEqual(cap);
          }
          const newlines = bytes.filter((byte) => byte === 0x0a).length;
          // Each line gives at most one item; an unfinished overlong one may add its error.
          expect(items).toBeLessThanOrEqual(newlines + 1);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('fuzz: any JSON messages come back unchanged however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (values, cuts) => {
          const bytes = Buffer.concat(values.map((value) => encodeLine({ value })));
          const lines = decodeAll(new LineDecoder(), chunked(bytes, cuts));
          // JSON.parse(JSON.stringify(x)) is what a line can carry (-0 becomes 0).
          expect(lines).toEqual(
            values.map((value) => ({ ok: true, value: JSON.parse(JSON.stringify({ value })) })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fuzz: garbage between good lines costs only the garbage', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 100 }).map((b) => b.filter((x) => x !== 0x0a))),
        fc.array(fc.nat(), { maxLength: 10 }),
        (garbage, cuts) => {
          const parts = garbage.flatMap((junk, index) => [
            Buffer.from(junk),
            Buffer.from('\n'),
            encodeLine({ index }),
          ]);
          const lines = decodeAll(new LineDecoder(64), chunked(Buffer.concat(parts), cuts));
          const good = lines.filter((line) => line.ok && isIndexed(line.value));
          expect(good.map((line) => line.ok && line.value)).toEqual(
            garbage.map((_, index) => ({ index })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

function isIndexed(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === 1 &&
    typeof (value as { index?: unknown }).index === 'number'
  );
}
