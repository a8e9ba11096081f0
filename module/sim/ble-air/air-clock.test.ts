import { describe, expect, it } from 'vitest';
import { ScaledAirClock } from './air-clock.js';

function settle(clock: ScaledAirClock): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (clock.pendingTimers === 0 ? resolve() : setTimeout(check, 1));
    check();
  });
}

describe('ScaledAirClock', () => {
  it('with timeScale 0, fires timers in air-time order and jumps to each due time', async () => {
    const clock = new ScaledAirClock(0);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 420);
    clock.setTimeout(() => {
      fired.push(['a', clock.now()]);
      // Planned from the event's own time, not from when Node ran it.
      clock.setTimeout(() => fired.push(['c', clock.now()]), 22.5);
    }, 22.5);
    const cancelled = clock.setTimeout(() => fired.push(['x', clock.now()]), 100);
    clock.clearTimeout(cancelled);
    await settle(clock);
    expect(fired).toEqual([
      ['a', 22.5],
      ['c', 45],
      ['b', 420],
    ]);
    expect(clock.now()).toBe(420);
    clock.close();
  });

  it('never goes back in time, and keeps nothing alive once closed', () => {
    const clock = new ScaledAirClock(1);
    const first = clock.now();
    expect(clock.now()).toBeGreaterThanOrEqual(first);
    clock.setTimeout(() => undefined, 10_000);
    clock.close();
    expect(clock.pendingTimers).toBe(0);
    expect(() => new ScaledAirClock(-1)).toThrow(/timeScale/);
  });
});
