/**
 * Baud negotiation (PROTOCOL.md section 8): the host raises the line rate after HELLO, falling
 * back to slower rates when a faster one does not carry frames, and the module returns to the old
 * rate by itself when nothing intact arrives at the new one. Both sides' logic lives here so the
 * firmware and the workshop app cannot drift apart.
 */
import type { Clock } from '../clock/index.js';
import { ErrorCode, type BaudChangeRequest, type ResponseInitOf } from '../messages/index.js';
import { RejectedError, ServiceError, TimeoutError } from './errors.js';
import { hello } from './hello.js';
import type { RequestContext, ServiceSession } from './service-session.js';

/** Every session starts at this rate. */
export const INITIAL_BAUD_RATE = 115200;
/** Rates the service link uses, fastest first. */
export const BAUD_RATES: readonly number[] = [921600, 460800, 115200];
/** The module's default time to fall back when nothing intact arrives at a new rate. */
export const DEFAULT_REVERT_AFTER_MS = 1000;
/** Longest revert time a module may announce; a host whose baud_change answer was lost waits this long. */
export const MAX_REVERT_AFTER_MS = 2000;

/**
 * The module switches this long after handing its baud_change response to the port, so the
 * response's last bytes leave the UART at the old rate (a driver's "drained" can come early).
 */
export const MODULE_SWITCH_DELAY_MS = 5;
/** The host waits this long after switching before its first probe, so the module has switched. */
export const HOST_PROBE_DELAY_MS = 20;

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
  outcome: 'in use' | 'refused' | 'no answer' | 'no frames at this rate';
}

export interface BaudNegotiationResult {
  baudRate: number;
  attempts: BaudAttempt[];
}

/**
 * Host side: raise the line rate as far as both ends and the cable allow. Resolves with the rate
 * in use; rejects only when the link is lost altogether (no answer at the old rate either).
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
    const probeMs = Math.max(20, Math.floor(revertAfterMs / 4));
    try {
      await hello(session, host, { timeoutMs: probeMs, retries: 2 });
      attempts.push({ baudRate, outcome: 'in use' });
      return { baudRate, attempts };
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
    attempts.push({ baudRate, outcome: 'no frames at this rate' });
    await options.setLocalBaudRate(current);
    session.resetFraming();
    // the module reverts revertAfterMs after its switch, which came before ours
    const remaining = switchedAt + revertAfterMs - clock.now();
    if (remaining > 0) await wait(clock, remaining + Math.ceil(revertAfterMs / 10));
    await hello(session, host);
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

/**
 * Module side: serves baud_change and reverts when the host does not follow. Register
 * `handleBaudChange` as the session's `baudChange` handler; it watches the session's frames for
 * the confirmation itself.
 */
export class BaudRateFollower {
  #current: number;
  #pending: { previous: number; timer: unknown } | undefined;
  readonly #options: BaudRateFollowerOptions;
  readonly #revertAfterMs: number;

  constructor(session: ServiceSession, options: BaudRateFollowerOptions) {
    this.#options = options;
    this.#current = options.currentBaudRate ?? INITIAL_BAUD_RATE;
    this.#revertAfterMs = Math.min(
      options.revertAfterMs ?? DEFAULT_REVERT_AFTER_MS,
      MAX_REVERT_AFTER_MS,
    );
    session.onFrame(() => this.#confirm());
  }

  get baudRate(): number {
    return this.#current;
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
    await wait(this.#options.clock, MODULE_SWITCH_DELAY_MS);
    await this.#options.setLocalBaudRate(baudRate);
    this.#current = baudRate;
    const timer = this.#options.clock.setTimeout(() => {
      this.#pending = undefined;
      this.#current = previous;
      void this.#options.setLocalBaudRate(previous);
    }, this.#revertAfterMs);
    this.#pending = { previous, timer };
  }

  #confirm(): void {
    // any intact frame at the new rate proves the host followed
    this.#cancelRevert();
  }

  #cancelRevert(): void {
    if (this.#pending) this.#options.clock.clearTimeout(this.#pending.timer);
    this.#pending = undefined;
  }
}
