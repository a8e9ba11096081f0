import { EventEmitter } from 'node:events';
import { RTC_RESET_MS } from '../../src/hal/module-clock.js';
import type { BusClockReading, BusEventData } from '../../src/hal/sim/bus-protocol.js';
import type { SimClock } from './sim-clock.js';
import type { SimulatedVehicle } from './simulated-vehicle.js';

export type RtcReading = BusClockReading;
export type RtcChange = BusEventData<'clock'>;

export interface ModuleRtcEvents {
  change: [change: RtcChange];
}

/**
 * The module's real-time clock, as module-sim simulates it: it runs with the SimClock (so jumps
 * and the time scale move it too) at an offset the firmware sets. Losing the 12 V supply resets
 * it, as a real RTC without a backup cell: after power returns it counts from 2000-01-01 and
 * reports its time unknown until the firmware sets it again (from the cloud, a signed service
 * authorization or a GNSS fix).
 */
export class ModuleRtc extends EventEmitter<ModuleRtcEvents> {
  readonly #clock: SimClock;
  readonly #vehicle: SimulatedVehicle;
  #offsetMs = 0;
  #timeKnown = true;
  readonly #onJump = ({ deltaMs }: { deltaMs: number }) => this.#emitChange('jump', deltaMs);
  readonly #onTimeScale = () => this.#emitChange('time-scale', 0);
  readonly #onPower = ({ on }: { on: boolean }) => {
    if (!on) return;
    this.#offsetMs = RTC_RESET_MS - this.#clock.now();
    this.#timeKnown = false;
  };

  constructor(clock: SimClock, vehicle: SimulatedVehicle) {
    super();
    this.#clock = clock;
    this.#vehicle = vehicle;
    clock.on('jump', this.#onJump);
    clock.on('timeScale', this.#onTimeScale);
    vehicle.on('power', this.#onPower);
  }

  read(): RtcReading {
    return {
      // A rollback far enough to cross 1970 reads as 1970: the wire carries no negative time.
      nowMs: Math.max(0, this.#clock.now() + this.#offsetMs),
      timeScale: this.#clock.timeScale,
      timeKnown: this.#timeKnown,
    };
  }

  /** What the firmware does with a trusted time; tests may also set a wrong one on purpose. */
  set(nowMs: number): RtcReading {
    const before = this.read().nowMs;
    this.#offsetMs = nowMs - this.#clock.now();
    this.#timeKnown = true;
    this.#emitChange('set', nowMs - before);
    return this.read();
  }

  dispose(): void {
    this.#clock.off('jump', this.#onJump);
    this.#clock.off('timeScale', this.#onTimeScale);
    this.#vehicle.off('power', this.#onPower);
  }

  #emitChange(reason: RtcChange['reason'], deltaMs: number): void {
    this.emit('change', { reason, deltaMs: Math.round(deltaMs), ...this.read() });
  }
}
