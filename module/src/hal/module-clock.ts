/**
 * The module's real-time clock. It implements shared-protocol's Clock, so it can be handed to
 * every time-based check (key validity, authorizations) as it is.
 */
import type { Clock } from '@mini-sharing/shared-protocol/clock';

export interface ModuleClockChange {
  /**
   * `jump`: the clock moved by itself (a simulated jump, or a correction from the hardware);
   * `set`: someone set it; `time-scale`: only the simulated rate changed; `resync`: the driver
   * re-read the hardware (after a reconnect).
   */
  reason: 'jump' | 'set' | 'time-scale' | 'resync';
  nowMs: number;
  /** How far `now()` moved (negative: backwards). */
  deltaMs: number;
  timeKnown: boolean;
}

export interface ModuleClock extends Clock {
  /**
   * False after the module lost its 12 V supply, until `setTime`: `now()` then counts from the
   * RTC's reset value (2000-01-01), so time checks must be skipped, never trusted.
   */
  readonly timeKnown: boolean;
  /** Sets the RTC from a trusted time (cloud, a signed authorization, GNSS); then timeKnown. */
  setTime(nowMs: number): Promise<void>;
  /**
   * `setTimeout` delays are durations: a jump forward fires the timers it passes, a jump back
   * (a clock rollback) leaves them their remaining time.
   */
  onChange(listener: (change: ModuleClockChange) => void): () => void;
}

/** What a real RTC reads after losing power: 2000-01-01T00:00:00Z. */
export const RTC_RESET_MS = Date.UTC(2000, 0, 1);
