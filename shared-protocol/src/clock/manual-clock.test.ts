import { describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';

describe('ManualClock', () => {
  it('fires due timers in order as time advances, each at its own due time', () => {
    const clock = new ManualClock(1000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
    const cancelled = clock.setTimeout(() => fired.push(['x', clock.now()]), 5);
    clock.clearTimeout(cancelled);
    clock.advance(15);
    expect(fired).toEqual([['a', 1010]]);
    clock.advance(100);
    expect(fired).toEqual([
      ['a', 1010],
      ['b', 1020],
    ]);
    expect(clock.now()).toBe(1115);
    expect(clock.pendingTimers).toBe(0);
  });

  it('set back: nothing fires and timers keep the time they still had to wait', () => {
    const clock = new ManualClock(1000);
    let firedAt: number | undefined;
    clock.setTimeout(() => (firedAt = clock.now()), 50);
    clock.advance(20);
    clock.setBack(500);
    expect(clock.now()).toBe(520);
    expect(firedAt).toBeUndefined();
    clock.advance(29);
    expect(firedAt).toBeUndefined();
    clock.advance(1);
    expect(firedAt).toBe(550);
  });
});
