import type { Clock, TimerHandle } from './index.js';

interface PendingTimer {
  id: number;
  due: number;
  callback: () => void;
}

/** A clock that moves only when told to: for deterministic tests of timeouts and expiry. */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: PendingTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.push({ id, due: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Move time forward, firing due timers in order (timers they set are fired too if due). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#timers
        .filter((timer) => timer.due <= target)
        .sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!next) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#now = next.due;
      next.callback();
    }
    this.#now = target;
  }

  /**
   * Set the clock back by `ms` (a rollback, not time passing): nothing fires, and every timer
   * keeps the time it still had to wait.
   */
  setBack(ms: number): void {
    this.#now -= ms;
    for (const timer of this.#timers) timer.due -= ms;
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
}
