import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '@mini-sharing/shared-protocol/clock';
import { ScaledClock } from '../../src/hal/sim/scaled-clock.js';

export interface SimClockOptions {
  /** Simulated time at start, ms since the Unix epoch; default the real time now. */
  startMs?: number;
  /** Simulated ms per real ms: 1 real time, 60 a minute per second, 0 paused. Default 1. */
  timeScale?: number;
  /** Real, monotonic time and timers; default the process's. Tests pass a ManualClock. */
  realTime?: Clock;
}

export interface SimClockEvents {
  /** After a jump, and after the timers it passed have fired. */
  jump: [jump: { deltaMs: number; nowMs: number }];
  timeScale: [change: { timeScale: number; nowMs: number }];
}

/**
 * The simulated world's time: start + real time elapsed × timeScale, plus jumps. Implements
 * shared-protocol's Clock; its timers fire by simulated time.
 *
 * `jump(+ms)` is time passing at once: the car drives on, timers due in between fire in order.
 * `jump(-ms)` is the clocks being set back (how tests roll a clock back): nothing physical
 * reverses, and pending timers keep their remaining time.
 */
export class SimClock extends EventEmitter<SimClockEvents> implements Clock {
  readonly #time: ScaledClock;

  constructor(options: SimClockOptions = {}) {
    super();
    this.#time = new ScaledClock({
      startMs: options.startMs ?? Date.now(),
      ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
      ...(options.realTime === undefined ? {} : { realTime: options.realTime }),
    });
  }

  now(): number {
    return this.#time.now();
  }

  /** Simulated ms passed since the clock was made; only ever grows (jumps back do not count). */
  elapsedMs(): number {
    return this.#time.elapsedMs();
  }

  get timeScale(): number {
    return this.#time.timeScale;
  }

  setTimeScale(timeScale: number): void {
    this.#time.setTimeScale(timeScale);
    this.emit('timeScale', { timeScale: this.#time.timeScale, nowMs: this.now() });
  }

  jump(deltaMs: number): void {
    this.#time.adjust(deltaMs);
    this.emit('jump', { deltaMs, nowMs: this.now() });
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#time.setTimeout(callback, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    this.#time.clearTimeout(handle);
  }

  get pendingTimers(): number {
    return this.#time.pendingTimers;
  }

  /** Drops pending timers and stops the real timer, so the clock keeps no process alive. */
  close(): void {
    this.#time.dispose();
  }
}
