import { describe, expect, it } from 'vitest';
import { seededRandom } from './prng.js';
import { WireDirection } from './wire.js';

// At this rate a byte (10 bits) takes exactly 1 ms, which keeps the arithmetic readable.
const BAUD = 10_000;

function wire(timeScale = 1, seed = 1): WireDirection {
  return new WireDirection(seededRandom(seed), timeScale);
}

function pattern(count: number): Uint8Array {
  return Uint8Array.from({ length: count }, (_, index) => (index * 7 + 3) & 0xff);
}

function popcount(byte: number): number {
  let count = 0;
  for (let value = byte; value !== 0; value &= value - 1) count++;
  return count;
}

// Takes everything in steps of `stepMs` until the wire is empty.
function drain(line: WireDirection, from: number, stepMs: number): Uint8Array {
  const parts: number[] = [];
  for (let now = from; line.nextDueAt() !== undefined; now += stepMs) parts.push(...line.take(now));
  return Uint8Array.from(parts);
}

describe('WireDirection', () => {
  it('takes 10 bits per byte at the sender rate', () => {
    const line = wire();
    line.send(pattern(960), 0, BAUD, BAUD); // 960 ms in all
    expect(line.take(0.5)).toHaveLength(0);
    expect(line.take(500)).toEqual(pattern(500));
    expect(line.nextDueAt()).toBeCloseTo(501);
    expect(line.take(960)).toEqual(pattern(960).subarray(500));
    expect(line.nextDueAt()).toBeUndefined();
  });

  it('scales wire time with timeScale and queues chunks behind each other', () => {
    const line = wire(0.1);
    line.send(pattern(100), 0, BAUD, BAUD); // 10 ms
    line.send(pattern(100), 1, BAUD, BAUD); // waits for the first: 10..20 ms
    expect(line.take(10)).toHaveLength(100);
    expect(line.take(15)).toHaveLength(50);
    expect(line.take(20)).toHaveLength(50);
  });

  it('uses the configured end when the other is unset, and passes at once with neither', () => {
    const paced = wire();
    paced.send(pattern(96), 0, undefined, BAUD);
    expect(paced.take(50)).toHaveLength(50);
    const instant = wire();
    instant.send(pattern(96), 0, undefined, undefined);
    expect(instant.take(0)).toHaveLength(96);
  });

  it('garbles bytes sent while the ends are at different rates', () => {
    const line = wire(0);
    line.send(pattern(100), 0, 115200, 57600);
    const received = line.take(0);
    expect(received).not.toEqual(pattern(100));
    expect(line.stats.garbled).toBe(100);
  });

  it('turns bytes sent faster than maxBaudRate into noise, and carries slower ones intact', () => {
    const run = (seed: number) => {
      const line = new WireDirection(seededRandom(1), 0, seededRandom(seed));
      line.setFaults({ maxBaudRate: 460800 });
      line.send(pattern(1000), 0, 921600, 921600);
      const fast = line.take(0);
      line.send(pattern(1000), 0, 460800, 460800);
      return { fast, slow: line.take(0), stats: line.stats };
    };
    const { fast, slow, stats } = run(3);
    expect(fast).toHaveLength(1000);
    // noise: about half the bits differ from what was sent
    const flipped = fast.reduce(
      (sum, byte, index) => sum + popcount(byte ^ pattern(1000)[index]!),
      0,
    );
    expect(flipped).toBeGreaterThan(3600);
    expect(flipped).toBeLessThan(4400);
    expect(slow).toEqual(pattern(1000));
    expect(stats).toMatchObject({ sent: 2000, overRate: 1000, garbled: 0, flippedBits: 0 });
    expect(run(3).fast).toEqual(fast);
    expect(run(4).fast).not.toEqual(fast);
  });

  it('lifts the rate limit with maxBaudRate Infinity', () => {
    const line = wire(0);
    line.setFaults({ maxBaudRate: 115200 });
    line.setFaults({ bitErrorRate: 0 }); // other faults leave the limit alone
    line.send(pattern(100), 0, 921600, 921600);
    expect(line.take(0)).not.toEqual(pattern(100));
    line.setFaults({ maxBaudRate: Infinity });
    line.send(pattern(100), 0, 921600, 921600);
    expect(line.take(0)).toEqual(pattern(100));
    expect(line.stats.overRate).toBe(100);
  });

  it('holds bytes during a stall and delivers them when it ends', () => {
    const line = wire();
    line.stall(100, false);
    line.send(pattern(48), 0, BAUD, BAUD); // due by 48 ms
    expect(line.take(99)).toHaveLength(0);
    expect(line.nextDueAt()).toBe(100);
    expect(line.take(100)).toEqual(pattern(48));
  });

  it('loses the bytes that fall due during a losing stall, and only those', () => {
    const line = wire();
    line.send(pattern(96), 0, BAUD, BAUD); // byte i due at (i + 1) ms
    line.stall(48, true);
    expect(line.take(96)).toEqual(pattern(96).subarray(48));
    expect(line.stats.lost).toBe(48);
  });

  it('flips bits at the bit error rate, reproducibly per seed and whatever the batching', () => {
    const sent = pattern(4000);
    const run = (stepMs: number) => {
      const line = wire(0.01, 42);
      line.setFaults({ bitErrorRate: 0.01 });
      line.send(sent, 0, 115200, 115200);
      return { received: drain(line, 0, stepMs), stats: line.stats };
    };
    const { received, stats } = run(0.1);
    expect(received).toHaveLength(sent.length);
    const flipped = received.reduce((sum, byte, index) => sum + popcount(byte ^ sent[index]!), 0);
    expect(flipped).toBe(stats.flippedBits);
    expect(stats.flippedBits).toBeGreaterThan(200); // 32000 bits at 1 %: ~320
    expect(stats.flippedBits).toBeLessThan(450);
    expect(run(1.7).received).toEqual(received);
  });

  it('drops bytes at the drop rate', () => {
    const line = wire(0, 7);
    line.setFaults({ dropRate: 0.1 });
    const sent = Uint8Array.from({ length: 1000 }, (_, index) => index % 251);
    line.send(sent, 0, BAUD, BAUD);
    const received = line.take(0);
    expect(received.length).toBe(1000 - line.stats.dropped);
    expect(line.stats.dropped).toBeGreaterThan(60);
    expect(line.stats.dropped).toBeLessThan(140);
    // What arrives is the sent bytes in order, with gaps.
    let cursor = 0;
    for (const byte of received) {
      while (sent[cursor] !== byte) cursor++;
      cursor++;
    }
    expect(cursor).toBeLessThanOrEqual(sent.length);
  });

  it('counts what is on the wire as lost when it is cut', () => {
    const line = wire();
    line.send(pattern(100), 0, BAUD, BAUD);
    line.take(50);
    line.clear();
    expect(line.stats).toMatchObject({ sent: 100, lost: 50 });
    expect(line.nextDueAt()).toBeUndefined();
  });
});
