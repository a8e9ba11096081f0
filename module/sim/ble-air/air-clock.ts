import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '@mini-sharing/shared-protocol/clock';

interface AirTimer {
  id: number;
  due: number;
  callback: () => void;
  cancelled: boolean;
}

// With timeScale 0 a timer due later than now waits this long in real time, so periodic air
// activity (advertising to a scanner) cannot spin the event loop.
const ZERO_SCALE_STEP_MS = 1;

/**
 * Air time in ms since the air started, for the controllers' Clock. Real time runs
 * `timeScale` times as fast as air time: 1 is real time, 0.01 is a hundred times faster, and
 * 0 is zero latency, where air time only moves when a timer fires (a discrete event
 * simulation in which each step later in time costs 1 ms of real time).
 *
 * Inside a timer's callback, now() is the time the timer was due (unless something already
 * saw a later time): a connection event that Node runs 2 ms late still happens, and is traced,
 * on its interval grid, and the next one is planned from there. now() never goes back.
 *
 * One real timer serves all air timers, armed for the earliest.
 */
export class ScaledAirClock implements Clock {
  private readonly startedAt = performance.now();
  // The latest time now() returned; and the due time of the timer being fired, if any.
  private highWater = 0;
  private firingDue: number | undefined;
  private timers: AirTimer[] = [];
  private firing: AirTimer[] = [];
  private nextId = 1;
  private armed: { due: number; cancel: () => void } | undefined;
  private closed = false;

  constructor(readonly timeScale: number) {
    if (!(timeScale >= 0) || !Number.isFinite(timeScale)) {
      throw new RangeError(`timeScale must be 0 or more, got ${timeScale}`);
    }
  }

  now(): number {
    const observed =
      this.firingDue ??
      (this.timeScale === 0 ? 0 : (performance.now() - this.startedAt) / this.timeScale);
    this.highWater = Math.max(this.highWater, observed);
    return this.highWater;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer = {
      id: this.nextId++,
      due: this.now() + Math.max(0, ms),
      callback,
      cancelled: false,
    };
    // Sorted by due time, then by creation, so equal times fire in the order they were set.
    let index = this.timers.length;
    while (index > 0 && this.timers[index - 1]!.due > timer.due) index--;
    this.timers.splice(index, 0, timer);
    this.arm();
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    const index = this.timers.findIndex((timer) => timer.id === handle);
    if (index >= 0) this.timers.splice(index, 1)[0]!.cancelled = true;
    // One already taken for firing in this turn is skipped by its flag.
    for (const timer of this.firing) if (timer.id === handle) timer.cancelled = true;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Drops every timer; the clock keeps nothing alive afterwards. */
  close(): void {
    this.closed = true;
    this.timers = [];
    this.armed?.cancel();
    this.armed = undefined;
  }

  private arm(): void {
    const first = this.timers[0];
    if (this.closed || !first) return;
    if (this.armed && this.armed.due <= first.due) return;
    this.armed?.cancel();
    const wait = first.due - this.now();
    const realMs =
      this.timeScale === 0 ? (wait > 0 ? ZERO_SCALE_STEP_MS : 0) : wait * this.timeScale;
    const fire = () => {
      this.armed = undefined;
      this.fireDue();
    };
    if (realMs <= 0) {
      const immediate = setImmediate(fire);
      this.armed = { due: first.due, cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(fire, realMs);
      this.armed = { due: first.due, cancel: () => clearTimeout(timeout) };
    }
  }

  private fireDue(): void {
    // Zero latency: time jumps to the earliest timer.
    const now = this.timeScale === 0 ? Math.max(this.now(), this.timers[0]?.due ?? 0) : this.now();
    // Timers set by callbacks run in a later turn, so a chain of zero delays cannot starve I/O.
    this.firing = this.timers.filter((timer) => timer.due <= now);
    this.timers = this.timers.filter((timer) => timer.due > now);
    for (const timer of this.firing) {
      if (this.closed) return;
      if (timer.cancelled) continue;
      this.firingDue = timer.due;
      try {
        timer.callback();
      } finally {
        this.firingDue = undefined;
      }
    }
    this.firing = [];
    this.arm();
  }
}
