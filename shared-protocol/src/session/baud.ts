/**
 * Baud negotiation (PROTOCOL.md section 8): the host raises the line rate after HELLO, falling
 * back to slower rates when a faster one does not carry frames both ways, and the module returns
 * to the old rate by itself unless the host confirms the new one. Both sides' logic lives here so
 * the firmware and the workshop app cannot drift apart.
 *
 * The module keeps a new rate only when, after its switch, it hears the host's probe (a request)
 * and then a second, new request (another seq, not a retry of the probe): the host sends that one
 * only once the probe's answer reached it, so the new rate is proven in both directions before
 * either end relies on it. A line that carries the new rate one way only leaves both ends back at
 * the old rate.
 */
import type { Clock } from '../clock/index.js';
import type { Frame } from '../framing/index.js';
import { ErrorCode, type BaudChangeRequest, type ResponseInitOf } from '../messages/index.js';
import { RejectedError, ServiceError, TimeoutError } from './errors.js';
import { FrameType } from './frame-type.js';
import { hello } from './hello.js';
import type { RequestContext, ServiceSession } from './service-session.js';

/** Every session starts at this rate. */
export const INITIAL_BAUD_RATE = 115200;
/** Rates the service link uses, fastest first. */
export const BAUD_RATES: readonly number[] = [921600, 460800, 115200];
/**
 * The module's default time to fall back when the host does not confirm a new rate. The host's
 * probe and confirmation attempts share it (a fifth each), so it is the longest allowed: 400 ms an
 * attempt rides out a busy host; a rate that fails costs 2 s once per connection.
 */
export const DEFAULT_REVERT_AFTER_MS = 2000;
/** Longest revert time a module may announce; a host whose baud_change answer was lost waits this long. */
export const MAX_REVERT_AFTER_MS = 2000;

/**
 * The module switches this long after handing its baud_change response to the port, so the
 * response's last bytes leave the UART at the old rate (a driver's "drained" can come early).
 */
export const MODULE_SWITCH_DELAY_MS = 5;
/** The host waits this long after switching before its first probe, so the module has switched. */
export const HOST_PROBE_DELAY_MS = 20;
/** Attempts for the probe HELLO at a new rate (the first and its retries, same seq). */
export const PROBE_ATTEMPTS = 3;
/** Attempts for the confirming HELLO (a new request after the probe was answered). */
export const CONFIRM_ATTEMPTS = 2;

/**
 * Time the host gives each probe or confirmation attempt: a fifth of the module's revert time, so
 * every attempt (3 probes, 2 confirmations at most) lands inside the module's window.
 */
export const baudAttemptTimeoutMs = (revertAfterMs: number): number =>
  Math.max(20, Math.floor(revertAfterMs / 5));

const wait = (clock: Clock, ms: number) =>
  new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

export interface BaudNegotiationOptions {
  clock: Clock;
  /** Host description sent in the HELLO probes. */
  host: string;
  /** Rates the module announced in HELLO. */
  moduleRates: readonly number[];
  /** Switch the host's own port (after its pending output has drained). */
  setLocalBaudRate(baudRate: number): Promise<void>;
  /** Rate the line runs at now; default INITIAL_BAUD_RATE. */
  currentBaudRate?: number;
  /** Rates the host may use, fastest first; default BAUD_RATES. */
  hostRates?: readonly number[];
}

export interface BaudAttempt {
  baudRate: number;
  /**
   * - `in use`: probe and confirmation answered at this rate; the session goes on at it.
   * - `refused`: the module refused the rate (BAD_REQUEST).
   * - `no answer`: the baud_change answer was lost (the host waited out the module's revert).
   * - `no frames at this rate`: the probe went unanswered (the rate does not carry frames both
   *   ways); both ends went back.
   * - `not confirmed`: the probe was answered but the confirmation was not; both ends went back.
   */
  outcome: 'in use' | 'refused' | 'no answer' | 'no frames at this rate' | 'not confirmed';
}

export interface BaudNegotiationResult {
  baudRate: number;
  attempts: BaudAttempt[];
}

/**
 * Host side: raise the line rate as far as both ends and the cable allow. Resolves with the rate
 * in use; rejects only when the link is lost altogether (no answer at the old rate either).
 *
 * A working rate costs three round trips: baud_change, the probe HELLO and the confirming HELLO.
 */
export async function negotiateBaudRate(
  session: ServiceSession,
  options: BaudNegotiationOptions,
): Promise<BaudNegotiationResult> {
  const { clock, host } = options;
  const current = options.currentBaudRate ?? INITIAL_BAUD_RATE;
  const attempts: BaudAttempt[] = [];
  const candidates = (options.hostRates ?? BAUD_RATES)
    .filter((rate) => options.moduleRates.includes(rate) && rate > current)
    .sort((a, b) => b - a);

  for (const baudRate of candidates) {
    let revertAfterMs: number;
    try {
      const answer = await session.request('baudChange', { baudRate });
      revertAfterMs = Math.min(
        answer.revertAfterMs || DEFAULT_REVERT_AFTER_MS,
        MAX_REVERT_AFTER_MS,
      );
    } catch (error) {
      if (error instanceof RejectedError) {
        attempts.push({ baudRate, outcome: 'refused' });
        continue;
      }
      if (!(error instanceof TimeoutError)) throw error;
      // The answer was lost: the module may have switched. Give it time to come back, then check.
      attempts.push({ baudRate, outcome: 'no answer' });
      await wait(clock, MAX_REVERT_AFTER_MS);
      session.resetFraming();
      await hello(session, host);
      continue;
    }

    const switchedAt = clock.now();
    await options.setLocalBaudRate(baudRate);
    await wait(clock, HOST_PROBE_DELAY_MS);
    session.resetFraming();
    const timeoutMs = baudAttemptTimeoutMs(revertAfterMs);
    let outcome: 'no frames at this rate' | 'not confirmed' = 'no frames at this rate';
    try {
      // the probe: the module answers it but does not keep the rate for it
      await hello(session, host, { timeoutMs, retries: PROBE_ATTEMPTS - 1 });
      // its answer came back at the new rate: confirm with a new request (a new seq)
      outcome = 'not confirmed';
      await hello(session, host, { timeoutMs, retries: CONFIRM_ATTEMPTS - 1 });
      attempts.push({ baudRate, outcome: 'in use' });
      return { baudRate, attempts };
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
    attempts.push({ baudRate, outcome });
    await options.setLocalBaudRate(current);
    session.resetFraming();
    // Unconfirmed, the module reverts revertAfterMs after its switch, which came about when ours
    // did: wait until then, plus a tenth.
    const settled = switchedAt + revertAfterMs + Math.ceil(revertAfterMs / 10) - clock.now();
    if (settled > 0) await wait(clock, settled);
    try {
      await hello(session, host);
    } catch (error) {
      if (outcome !== 'not confirmed' || !(error instanceof TimeoutError)) throw error;
      // The module heard the confirmation and kept the new rate, only its answers were lost:
      // meet it there.
      await options.setLocalBaudRate(baudRate);
      session.resetFraming();
      await hello(session, host);
      attempts.push({ baudRate, outcome: 'in use' });
      return { baudRate, attempts };
    }
  }
  attempts.push({ baudRate: current, outcome: 'in use' });
  return { baudRate: current, attempts };
}

export interface BaudRateFollowerOptions {
  clock: Clock;
  /** Rates this module supports. */
  rates: readonly number[];
  /** Switch the module's own port (after the response in flight has drained). */
  setLocalBaudRate(baudRate: number): Promise<void>;
  revertAfterMs?: number;
  currentBaudRate?: number;
}

interface PendingSwitch {
  previous: number;
  timer: unknown;
  /** Seq of the first request heard at the new rate (the host's probe); its retries reuse it. */
  probeSeq: number | undefined;
}

/**
 * Module side: serves baud_change and reverts when the host does not confirm. Register
 * `handleBaudChange` as the session's `baudChange` handler; it watches the session's frames for
 * the probe and the confirmation itself.
 */
export class BaudRateFollower {
  #current: number;
  #pending: PendingSwitch | undefined;
  /** Bumped on every switch, so a slow switch that lost a race does not arm a stale timer. */
  #generation = 0;
  readonly #options: BaudRateFollowerOptions;
  readonly #revertAfterMs: number;

  constructor(session: ServiceSession, options: BaudRateFollowerOptions) {
    this.#options = options;
    this.#current = options.currentBaudRate ?? INITIAL_BAUD_RATE;
    this.#revertAfterMs = Math.min(
      options.revertAfterMs ?? DEFAULT_REVERT_AFTER_MS,
      MAX_REVERT_AFTER_MS,
    );
    session.onFrame((frame) => this.#heard(frame));
  }

  get baudRate(): number {
    return this.#current;
  }

  /** True while a switched rate waits for the host's confirmation. */
  get awaitingConfirmation(): boolean {
    return this.#pending !== undefined;
  }

  /** The `baudChange` request handler. */
  handleBaudChange = (
    request: BaudChangeRequest,
    context: RequestContext,
  ): ResponseInitOf<'baudChange'> => {
    const { baudRate } = request;
    if (!this.#options.rates.includes(baudRate)) {
      throw new ServiceError(
        ErrorCode.BAD_REQUEST,
        `Baud rate ${baudRate} is not supported; use one of ${this.#options.rates.join(', ')}`,
      );
    }
    const previous = this.#current;
    context.afterResponse(() => void this.#switch(baudRate, previous));
    return { baudRate, revertAfterMs: this.#revertAfterMs };
  };

  async #switch(baudRate: number, previous: number): Promise<void> {
    this.#cancelRevert();
    const generation = ++this.#generation;
    await wait(this.#options.clock, MODULE_SWITCH_DELAY_MS);
    if (generation !== this.#generation) return;
    try {
      await this.#options.setLocalBaudRate(baudRate);
    } catch {
      // the port could not switch (closed, unplugged): it stays at the rate it had
      return;
    }
    if (generation !== this.#generation) return;
    this.#current = baudRate;
    const timer = this.#options.clock.setTimeout(() => {
      this.#pending = undefined;
      this.#current = previous;
      // a port that fails to switch back is closed: the next session starts at the initial rate
      this.#options.setLocalBaudRate(previous).catch(() => {});
    }, this.#revertAfterMs);
    this.#pending = { previous, timer, probeSeq: undefined };
  }

  #heard(frame: Frame): void {
    const pending = this.#pending;
    if (!pending || frame.type !== FrameType.Request) return;
    if (pending.probeSeq === undefined) {
      // the probe: answered as usual, but its answer may not make it back at this rate
      pending.probeSeq = frame.seq;
      return;
    }
    // a new request (not a retry of the probe) proves the host heard the probe's answer
    if (frame.seq !== pending.probeSeq) this.#cancelRevert();
  }

  #cancelRevert(): void {
    if (this.#pending) this.#options.clock.clearTimeout(this.#pending.timer);
    this.#pending = undefined;
  }
}
