/**
 * A ModuleClock that moves only when a test says so: shared-protocol's ManualClock (`advance` is
 * time passing, due timers fire in order; `setBack` a rollback, timers keep their remaining time,
 * as the HAL promises) that also tells its listeners, plus `setTime`, a trusted set. Tests only.
 */
import { ManualClock } from '@mini-sharing/shared-protocol/clock';
import type { ModuleClock, ModuleClockChange } from '../../hal/index.js';
import { EventListeners } from '../listeners.js';

export class ManualModuleClock extends ManualClock implements ModuleClock {
  readonly #changes = new EventListeners<ModuleClockChange>();
  timeKnown = true;
  /** Every setTime call, for assertions. */
  readonly sets: number[] = [];

  constructor(startMs: number) {
    super(startMs);
  }

  onChange(listener: (change: ModuleClockChange) => void): () => void {
    return this.#changes.add(listener);
  }

  /** Time passes: timers due on the way fire in order. */
  override advance(ms: number, reason: ModuleClockChange['reason'] = 'jump'): void {
    super.advance(ms);
    this.#changes.emit({ reason, nowMs: this.now(), deltaMs: ms, timeKnown: this.timeKnown });
  }

  /** The clock is set back by `ms`: nothing fires, timers keep their remaining time. */
  override setBack(ms: number, reason: ModuleClockChange['reason'] = 'jump'): void {
    super.setBack(ms);
    this.#changes.emit({ reason, nowMs: this.now(), deltaMs: -ms, timeKnown: this.timeKnown });
  }

  async setTime(nowMs: number): Promise<void> {
    this.sets.push(nowMs);
    this.timeKnown = true;
    if (nowMs >= this.now()) this.advance(nowMs - this.now(), 'set');
    else this.setBack(this.now() - nowMs, 'set');
  }
}
