/**
 * A clock whose time runs `timeScale` times as fast as real time and can be moved: the core of
 * module-sim's SimClock and of the firmware's simulated RTC driver, which follows it.
 *
 * Two timelines: `elapsedMs()` only moves forward (how much simulated time has passed) and
 * drives the timers; `now()` is elapsed time plus an offset that a backward jump changes. So a
 * jump forward is time passing (the timers it passes fire, in order, each seeing its own due
 * time), and a jump back is a clock set back (timers keep their remaining time, as timers on a
 * device's monotonic tick do when its wall clock is rolled back).
 */
import type { Clock, TimerHandle } from '@mini-sharing/shared-protocol/clock';

/** Real, monotonic milliseconds (not Date.now, which NTP can step) and real timers. */
export const monotonicRealTime: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

export interface ScaledClockOptions {
  /** `now()` at start, ms since the Unix epoch. */
  startMs: number;
  /** Simulated ms per real ms: 1 real time, 60 a minute per second, 0 paused. */
  timeScale?: number;
  /** Default monotonicRealTime; tests pass shared-protocol's ManualClock. */
  realTime?: Clock;
}

interface PendingTimer {
  id: number;
  /** On the elapsed timeline. */
  due: number;
  callback: () => void;
  /** Set while firing: a zero-delay timer set by a callback waits for the next pass. */
  deferred: boolean;
}

// Node's setTimeout holds at most 2^31-1 ms; a longer wait wakes early and re-arms.
const MAX_REAL_DELAY_MS = 2 ** 31 - 1;

export class ScaledClock implements Clock {
  readonly #real: Clock;
  #scale: number;
  #elapsedAtAnchor = 0;
  #realAnchor: number;
  #offset: number;
  #timers: PendingTimer[] = [];
  #nextId = 1;
  #realTimer: TimerHandle | undefined;
  #firing = false;
  #disposed = false;

  constructor(options: ScaledClockOptions) {
    this.#real = options.realTime ?? monotonicRealTime;
    this.#scale = checkScale(options.timeScale ?? 1);
    this.#realAnchor = this.#real.now();
    this.#offset = options.startMs;
  }

  now(): number {
    return Math.floor(this.#elapsedExact() + this.#offset);
  }

  /** Simulated time passed since construction; never goes back. */
  elapsedMs(): number {
    return this.#elapsedExact();
  }

  get timeScale(): number {
    return this.#scale;
  }

  setTimeScale(timeScale: number): void {
    const scale = checkScale(timeScale);
    this.#reanchor(this.#elapsedExact());
    this.#scale = scale;
    this.#schedule();
  }

  /** Moves `now()` by `deltaMs`: forward fires what it passes, back only sets the clock back. */
  adjust(deltaMs: number): void {
    if (!Number.isFinite(deltaMs)) throw new RangeError(`not a time step: ${deltaMs}`);
    if (deltaMs <= 0) {
      this.#offset += deltaMs;
      return;
    }
    const target = this.#elapsedExact() + deltaMs;
    this.#fireDue(target, true);
    this.#reanchor(target);
    this.#schedule();
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const id = this.#nextId++;
    const due = this.#elapsedExact() + delay;
    this.#timers.push({ id, due, callback, deferred: this.#firing && delay === 0 });
    this.#timers.sort((a, b) => a.due - b.due || a.id - b.id);
    if (!this.#firing) this.#schedule();
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    const index = this.#timers.findIndex((timer) => timer.id === handle);
    if (index < 0) return;
    this.#timers.splice(index, 1);
    // A real timer left armed for nothing would keep the process alive until it fires.
    if (index === 0 && !this.#firing) this.#schedule();
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Stops the real timer and drops pending timers; the clock still reads. */
  dispose(): void {
    this.#disposed = true;
    this.#timers = [];
    this.#cancelRealTimer();
  }

  #elapsedExact(): number {
    return this.#elapsedAtAnchor + (this.#real.now() - this.#realAnchor) * this.#scale;
  }

  #reanchor(elapsed: number): void {
    this.#elapsedAtAnchor = elapsed;
    this.#realAnchor = this.#real.now();
  }

  /**
   * Fires timers due by `target`, earliest first. `stepping` (a jump): each callback sees its
   * own due time as now, so a periodic timer re-armed inside a jump runs every period.
   */
  #fireDue(target: number, stepping: boolean): void {
    this.#firing = true;
    for (const timer of this.#timers) timer.deferred = false;
    try {
      for (;;) {
        const next = this.#timers.find((timer) => !timer.deferred);
        if (next === undefined || next.due > target) break;
        this.#timers.splice(this.#timers.indexOf(next), 1);
        if (stepping && next.due > this.#elapsedExact()) this.#reanchor(next.due);
        try {
          next.callback();
        } catch (error) {
          // As a throwing Node timer would: reported, and the other timers still fire.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    } finally {
      this.#firing = false;
    }
  }

  #schedule(): void {
    this.#cancelRealTimer();
    const next = this.#timers[0];
    if (this.#disposed || next === undefined || this.#scale === 0) return;
    const realDelay = Math.max(0, (next.due - this.#elapsedExact()) / this.#scale);
    this.#realTimer = this.#real.setTimeout(
      () => {
        this.#realTimer = undefined;
        this.#fireDue(this.#elapsedExact(), false);
        this.#schedule();
      },
      Math.min(MAX_REAL_DELAY_MS, Math.ceil(realDelay)),
    );
  }

  #cancelRealTimer(): void {
    if (this.#realTimer !== undefined) this.#real.clearTimeout(this.#realTimer);
    this.#realTimer = undefined;
  }
}

function checkScale(timeScale: number): number {
  if (!Number.isFinite(timeScale) || timeScale < 0) {
    throw new RangeError(`time scale must be a finite number ≥ 0, is ${timeScale}`);
  }
  return timeScale;
}
