import { ManualClock } from '@mini-sharing/shared-protocol/clock';
import { describe, expect, it } from 'vitest';
import { SimClock } from './sim-clock.js';

const START = Date.UTC(2025, 5, 1, 8, 0, 0);
const HOUR = 3_600_000;

// Real time is a ManualClock: the test moves it, nothing waits.
function clocks(timeScale: number) {
  const real = new ManualClock(0);
  const clock = new SimClock({ startMs: START, timeScale, realTime: real });
  return { real, clock };
}

describe('SimClock', () => {
  it('runs at timeScale times real time', () => {
    const { real, clock } = clocks(60);
    expect(clock.now()).toBe(START);
    real.advance(1000);
    expect(clock.now()).toBe(START + 60_000);
    clock.setTimeScale(3600);
    real.advance(1000);
    expect(clock.now()).toBe(START + 60_000 + HOUR);
  });

  it('fires timers by simulated time', () => {
    const { real, clock } = clocks(60);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('2 min'), 120_000);
    clock.setTimeout(() => fired.push('1 min'), 60_000);
    const cancelled = clock.setTimeout(() => fired.push('never'), 90_000);
    clock.clearTimeout(cancelled);
    real.advance(999);
    expect(fired).toEqual([]);
    real.advance(1);
    expect(fired).toEqual(['1 min']);
    real.advance(1000);
    expect(fired).toEqual(['1 min', '2 min']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('re-times pending timers when the time scale changes', () => {
    const { real, clock } = clocks(1);
    let fired = false;
    clock.setTimeout(() => (fired = true), HOUR);
    clock.setTimeScale(3600);
    real.advance(999);
    expect(fired).toBe(false);
    real.advance(1);
    expect(fired).toBe(true);
  });

  it('jumping forward fires the timers it passes, in order, each at its own time', () => {
    const { clock } = clocks(1);
    const seen: Array<[string, number]> = [];
    clock.setTimeout(() => seen.push(['b', clock.now()]), 2 * HOUR);
    clock.setTimeout(() => seen.push(['a', clock.now()]), HOUR);
    clock.setTimeout(() => seen.push(['later', clock.now()]), 5 * HOUR);
    const jumps: unknown[] = [];
    clock.on('jump', (jump) => jumps.push(jump));
    clock.jump(3 * HOUR);
    expect(seen).toEqual([
      ['a', START + HOUR],
      ['b', START + 2 * HOUR],
    ]);
    expect(clock.now()).toBe(START + 3 * HOUR);
    expect(jumps).toEqual([{ deltaMs: 3 * HOUR, nowMs: START + 3 * HOUR }]);
    expect(clock.pendingTimers).toBe(1);
  });

  it('a periodic timer runs every period through a jump', () => {
    const { clock } = clocks(1);
    let ticks = 0;
    const tick = () => {
      ticks++;
      clock.setTimeout(tick, 60_000);
    };
    clock.setTimeout(tick, 60_000);
    clock.jump(HOUR);
    expect(ticks).toBe(60);
  });

  it('jumping back sets the clock back; timers keep their remaining time', () => {
    const { real, clock } = clocks(1);
    let fired = false;
    clock.setTimeout(() => (fired = true), 10_000);
    real.advance(4_000);
    clock.jump(-HOUR);
    expect(clock.now()).toBe(START + 4_000 - HOUR);
    expect(clock.elapsedMs()).toBe(4_000);
    real.advance(5_999);
    expect(fired).toBe(false);
    real.advance(1);
    expect(fired).toBe(true);
  });

  it('a time scale of 0 pauses the clock; a jump still moves it', () => {
    const { real, clock } = clocks(0);
    let fired = false;
    clock.setTimeout(() => (fired = true), 1000);
    real.advance(10 * HOUR);
    expect(clock.now()).toBe(START);
    expect(fired).toBe(false);
    clock.jump(1000);
    expect(fired).toBe(true);
  });

  it('a timer set from a timer with no delay runs after it, not inside it', () => {
    const { real, clock } = clocks(1);
    const order: string[] = [];
    clock.setTimeout(() => {
      clock.setTimeout(() => order.push('zero-delay'), 0);
      order.push('first');
    }, 10);
    clock.setTimeout(() => order.push('second'), 10);
    real.advance(10);
    expect(order).toEqual(['first', 'second', 'zero-delay']);
  });

  it('close leaves no real timer armed', () => {
    const { real, clock } = clocks(1);
    clock.setTimeout(() => undefined, HOUR);
    expect(real.pendingTimers).toBe(1);
    clock.close();
    expect(real.pendingTimers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses a negative or non-finite time scale', () => {
    expect(() => new SimClock({ timeScale: -1 })).toThrow(RangeError);
    const { clock } = clocks(1);
    expect(() => clock.setTimeScale(Number.NaN)).toThrow(RangeError);
    expect(() => clock.jump(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
