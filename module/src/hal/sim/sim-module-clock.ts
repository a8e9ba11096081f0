/**
 * The module's RTC over the simulated vehicle bus. `now()` must answer at once (Clock is
 * synchronous), so the driver keeps a local copy of module-sim's clock running at the same time
 * scale, and follows module-sim's `clock` events (jumps, time-scale changes, sets) and re-reads
 * it after every reconnect.
 */
import type { Clock, TimerHandle } from '@mini-sharing/shared-protocol/clock';
import type { ModuleClock, ModuleClockChange } from '../module-clock.js';
import type { BusClient } from './bus-client.js';
import type { BusClockReading, BusEventData } from './bus-protocol.js';
import { Listeners } from './listeners.js';
import { ScaledClock, monotonicRealTime } from './scaled-clock.js';

/** Corrections smaller than this much real time (× the time scale) are latency, not change. */
const TOLERANCE_REAL_MS = 20;

export class SimModuleClock implements ModuleClock {
  readonly #bus: BusClient;
  readonly #realTime: Clock;
  readonly #time: ScaledClock;
  #timeKnown: boolean;
  readonly #changes = new Listeners<ModuleClockChange>();
  readonly #unsubscribe: Array<() => void>;

  private constructor(bus: BusClient, realTime: Clock, reading: BusClockReading) {
    this.#bus = bus;
    this.#realTime = realTime;
    this.#time = new ScaledClock({
      startMs: reading.nowMs,
      timeScale: reading.timeScale,
      realTime,
    });
    this.#timeKnown = reading.timeKnown;
    this.#unsubscribe = [
      bus.onEvent((event) => {
        if (event.event === 'clock') this.#follow(event.data);
      }),
      bus.onConnection((change) => {
        if (change.connected) this.#resync().catch(() => undefined); // next reconnect retries
      }),
    ];
  }

  /** Reads the RTC once (waiting up to `timeoutMs` for the bus), then follows it. */
  static async open(
    bus: BusClient,
    realTime: Clock = monotonicRealTime,
    timeoutMs?: number,
  ): Promise<SimModuleClock> {
    return new SimModuleClock(bus, realTime, await readCompensated(bus, realTime, timeoutMs));
  }

  now(): number {
    return this.#time.now();
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#time.setTimeout(callback, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    this.#time.clearTimeout(handle);
  }

  get timeKnown(): boolean {
    return this.#timeKnown;
  }

  get timeScale(): number {
    return this.#time.timeScale;
  }

  async setTime(nowMs: number): Promise<void> {
    // module-sim answers with the reading and also sends a `clock` event (which #follow takes);
    // applying the answer too is harmless and covers an event lost to a reconnect.
    this.#apply(await this.#bus.request('clock.set', { nowMs }), 'set');
  }

  onChange(listener: (change: ModuleClockChange) => void): () => void {
    return this.#changes.add(listener);
  }

  /** Stops following the bus and drops pending timers. */
  dispose(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#time.dispose();
  }

  #follow(event: BusEventData<'clock'>): void {
    if (event.reason === 'jump') {
      // Relative, so latency does not add up over many jumps.
      if (event.timeScale !== this.#time.timeScale) this.#time.setTimeScale(event.timeScale);
      this.#time.adjust(event.deltaMs);
      this.#timeKnown = event.timeKnown;
      this.#changes.emit({
        reason: 'jump',
        nowMs: this.now(),
        deltaMs: event.deltaMs,
        timeKnown: this.#timeKnown,
      });
      return;
    }
    this.#apply(event, event.reason);
  }

  async #resync(): Promise<void> {
    this.#apply(await readCompensated(this.#bus, this.#realTime), 'resync');
  }

  /** Takes an absolute reading; tells listeners only about a real change. */
  #apply(reading: BusClockReading, reason: ModuleClockChange['reason']): void {
    const scaleChanged = reading.timeScale !== this.#time.timeScale;
    if (scaleChanged) this.#time.setTimeScale(reading.timeScale);
    const deltaMs = reading.nowMs - this.now();
    const tolerance = Math.max(1, TOLERANCE_REAL_MS * reading.timeScale);
    const moved = Math.abs(deltaMs) > tolerance || (reason === 'set' && deltaMs !== 0);
    if (moved) this.#time.adjust(deltaMs);
    const knownChanged = reading.timeKnown !== this.#timeKnown;
    this.#timeKnown = reading.timeKnown;
    if (!moved && !knownChanged && !scaleChanged) return;
    this.#changes.emit({
      reason,
      nowMs: this.now(),
      deltaMs: moved ? deltaMs : 0,
      timeKnown: this.#timeKnown,
    });
  }
}

/** A clock reading moved on by half the round trip, the best guess of when it was taken. */
async function readCompensated(
  bus: BusClient,
  realTime: Clock,
  timeoutMs?: number,
): Promise<BusClockReading> {
  const sentAt = realTime.now();
  const reading = await bus.request('clock.read', {}, timeoutMs === undefined ? {} : { timeoutMs });
  const halfTripMs = (realTime.now() - sentAt) / 2;
  return { ...reading, nowMs: Math.round(reading.nowMs + halfTripMs * reading.timeScale) };
}
