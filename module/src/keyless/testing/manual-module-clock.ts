/**
 * A ModuleClock that moves only when a test says so: `advance` is time passing (due timers fire
 * in order, each seeing its own due time), `setBack` a rollback (timers keep their remaining
 * time, as the HAL promises), `setTime` a trusted set. Tests only.
 */
import type { TimerHandle } from '@mini-sharing/shared-protocol/clock';
import type { ModuleClock, ModuleClockChange } from '../../hal/index.js';
import { EventListeners } from '../listeners.js';

interface PendingTimer {
  id: number;
  due: number;
  callback: () => void;
}

export class ManualModuleClock implements ModuleClock {
  #now: number;
  #nextId = 1;
  #timers: PendingTimer[] = [];
  readonly #changes = new EventListeners<ModuleClockChange>();
  timeKnown = true;
  /** Every setTime call, for assertions. */
  readonly sets: number[] = [];

  constructor(startMs: number) {
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

  onChange(listener: (change: ModuleClockChange) => void): () => void {
    return this.#changes.add(listener);
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Time passes: timers due on the way fire in order. */
  advance(ms: number, reason: ModuleClockChange['reason'] = 'jump'): void {
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
    this.#changes.emit({ reason, nowMs: target, deltaMs: ms, timeKnown: this.timeKnown });
  }

  /** The clock is set back by `ms`: nothing fires, timers keep their remaining time. */
  setBack(ms: number, reason: ModuleClockChange['reason'] = 'jump'): void {
    this.#now -= ms;
    for (const timer of this.#timers) timer.due -= ms;
    this.#changes.emit({ reason, nowMs: this.#now, deltaMs: -ms, timeKnown: this.timeKnown });
  }

  async setTime(nowMs: number): Promise<void> {
    this.sets.push(nowMs);
    this.timeKnown = true;
    if (nowMs >= this.#now) this.advance(nowMs - this.#now, 'set');
    else this.setBack(this.#now - nowMs, 'set');
  }
}
