/**
 * Time enters shared-protocol only through this interface, so the same code runs in Node and in a
 * browser and tests can move time (see ManualClock).
 */
/** Whatever the clock's setTimeout returns; only ever handed back to its clearTimeout. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export { ManualClock } from './manual-clock.js';
export { systemClock } from './system-clock.js';
