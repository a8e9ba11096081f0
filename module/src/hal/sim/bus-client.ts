/**
 * The firmware's end of the simulated vehicle bus: one Unix socket connection to module-sim,
 * re-established whenever it drops (module-sim restarted, socket not there yet), requests with
 * ids and a time limit each, typed HalErrors, and validated events.
 */
import type { Socket } from 'node:net';
import { createConnection } from 'node:net';
import type { Clock, TimerHandle } from '@mini-sharing/shared-protocol/clock';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import type { HalErrorCode } from '../hal-error.js';
import { HalError } from '../hal-error.js';
import type { BusErrorBody, BusEvent, BusMethod, BusParams, BusResult } from './bus-protocol.js';
import {
  BUS_PROTOCOL_VERSION,
  encodeLine,
  parseResult,
  parseServerMessage,
} from './bus-protocol.js';
import { LineDecoder } from './line-decoder.js';
import { Listeners } from './listeners.js';

export interface BusClientOptions {
  socketPath: string;
  /** Per request, including any wait for the connection; default 2000 ms (real time). */
  requestTimeoutMs?: number;
  /** Reconnect back-off: first delay, doubled per failure up to max; default 25 and 1000 ms. */
  reconnectDelayMs?: { first: number; max: number };
  /** Real time for timeouts and back-off; default the process's timers. */
  timers?: Clock;
}

export type BusConnectionChange = { connected: true } | { connected: false; error?: HalError };

export interface BusClientStats {
  /** Connections that completed the hello. */
  connections: number;
  /** Lines from the bus that could not be read or matched; each was dropped. */
  protocolErrors: number;
}

interface InFlight {
  method: BusMethod;
  resolve: (result: unknown) => void;
  reject: (error: HalError) => void;
}

interface Waiter {
  send: () => void;
  fail: (error: HalError) => void;
}

const MAX_ID = 0xffff_ffff;

export class BusClient {
  readonly #options: Required<Omit<BusClientOptions, 'timers'>>;
  readonly #timers: Clock;
  #socket: Socket | undefined;
  #ready = false;
  #closed = false;
  #nextId = 1;
  #delayMs: number;
  #reconnectTimer: TimerHandle | undefined;
  readonly #inFlight = new Map<number, InFlight>();
  /** Requests made while disconnected, sent once the hello is through. */
  readonly #waiting = new Set<Waiter>();
  readonly #events = new Listeners<BusEvent>();
  readonly #connection = new Listeners<BusConnectionChange>();
  readonly stats: BusClientStats = { connections: 0, protocolErrors: 0 };

  constructor(options: BusClientOptions) {
    this.#options = {
      socketPath: options.socketPath,
      requestTimeoutMs: options.requestTimeoutMs ?? 2000,
      reconnectDelayMs: options.reconnectDelayMs ?? { first: 25, max: 1000 },
    };
    this.#timers = options.timers ?? systemClock;
    this.#delayMs = this.#options.reconnectDelayMs.first;
    this.#connect();
  }

  get connected(): boolean {
    return this.#ready;
  }

  onEvent(listener: (event: BusEvent) => void): () => void {
    return this.#events.add(listener);
  }

  onConnection(listener: (change: BusConnectionChange) => void): () => void {
    return this.#connection.add(listener);
  }

  /**
   * Rejects with HalError: `bus-unavailable` (never connected in time), `timeout`,
   * `disconnected` (dropped in flight: it may have run), `bad-response`, `closed`, or the car's
   * own refusal (`no-sharing-interface`, `doors-open`, `no-power`).
   */
  request<M extends BusMethod>(
    method: M,
    params: BusParams<M>,
    options: { timeoutMs?: number } = {},
  ): Promise<BusResult<M>> {
    if (this.#closed) return Promise.reject(new HalError('closed', 'The vehicle bus is closed.'));
    return this.#exchange(
      method,
      params,
      options.timeoutMs ?? this.#options.requestTimeoutMs,
      false,
    );
  }

  /** Stops reconnecting, fails what is pending with `closed`, and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) this.#timers.clearTimeout(this.#reconnectTimer);
    const error = new HalError('closed', 'The vehicle bus was closed.');
    for (const waiter of [...this.#waiting]) waiter.fail(error);
    this.#failInFlight(error);
    const socket = this.#socket;
    if (socket !== undefined && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    }
  }

  #exchange<M extends BusMethod>(
    method: M,
    params: BusParams<M>,
    timeoutMs: number,
    beforeReady: boolean,
  ): Promise<BusResult<M>> {
    return new Promise<BusResult<M>>((resolve, reject) => {
      let id: number | undefined;
      const waiter: Waiter = {
        send: () => {
          this.#waiting.delete(waiter);
          id = this.#takeId();
          this.#inFlight.set(id, {
            method,
            resolve: (result) => finish(() => resolve(result as BusResult<M>)),
            reject: (error) => finish(() => reject(error)),
          });
          this.#socket?.write(encodeLine({ id, method, params }));
        },
        fail: (error) => {
          this.#waiting.delete(waiter);
          finish(() => reject(error));
        },
      };
      const timer = this.#timers.setTimeout(() => {
        if (id === undefined) {
          waiter.fail(
            new HalError(
              'bus-unavailable',
              `No vehicle bus at ${this.#options.socketPath} within ${timeoutMs} ms (${method}).`,
            ),
          );
        } else {
          this.#inFlight.delete(id);
          finish(() =>
            reject(new HalError('timeout', `No answer to ${method} within ${timeoutMs} ms.`)),
          );
        }
      }, timeoutMs);
      const finish = (settle: () => void) => {
        this.#timers.clearTimeout(timer);
        settle();
      };
      if (this.#ready || (beforeReady && this.#socket !== undefined)) waiter.send();
      else this.#waiting.add(waiter);
    });
  }

  #takeId(): number {
    const id = this.#nextId;
    this.#nextId = id >= MAX_ID ? 1 : id + 1;
    return id;
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = createConnection(this.#options.socketPath);
    this.#socket = socket;
    const decoder = new LineDecoder();
    socket.on('connect', () => void this.#hello(socket));
    socket.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk)) {
        if (line.ok) this.#receive(line.value);
        else this.stats.protocolErrors++;
      }
    });
    socket.on('error', () => undefined); // 'close' follows and handles it
    socket.on('close', () => this.#lost(socket));
  }

  async #hello(socket: Socket): Promise<void> {
    try {
      const { protocolVersion } = await this.#exchange(
        'hello',
        { protocolVersion: BUS_PROTOCOL_VERSION },
        this.#options.requestTimeoutMs,
        true,
      );
      if (protocolVersion !== BUS_PROTOCOL_VERSION) {
        throw new HalError(
          'protocol-mismatch',
          `The vehicle bus speaks protocol ${protocolVersion}, this firmware ${BUS_PROTOCOL_VERSION}.`,
        );
      }
    } catch (error) {
      if (socket === this.#socket) {
        const cause = error instanceof HalError ? error : new HalError('internal', String(error));
        this.#connection.emit({ connected: false, error: cause });
        socket.destroy();
      }
      return;
    }
    if (socket !== this.#socket || this.#closed) return;
    this.#ready = true;
    this.#delayMs = this.#options.reconnectDelayMs.first;
    this.stats.connections++;
    for (const waiter of [...this.#waiting]) waiter.send();
    this.#connection.emit({ connected: true });
  }

  #lost(socket: Socket): void {
    if (socket !== this.#socket) return;
    const wasReady = this.#ready;
    this.#ready = false;
    this.#socket = undefined;
    this.#failInFlight(
      new HalError('disconnected', 'The vehicle bus connection dropped; the request may have run.'),
    );
    if (wasReady) this.#connection.emit({ connected: false });
    if (this.#closed) return;
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, this.#delayMs);
    this.#delayMs = Math.min(this.#delayMs * 2, this.#options.reconnectDelayMs.max);
  }

  #failInFlight(error: HalError): void {
    const pending = [...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const request of pending) request.reject(error);
  }

  #receive(value: unknown): void {
    const parsed = parseServerMessage(value);
    if (!parsed.ok) {
      this.stats.protocolErrors++;
      return;
    }
    const message = parsed.message;
    if (message.kind === 'event') {
      this.#events.emit(message.event);
      return;
    }
    const request = message.id === null ? undefined : this.#inFlight.get(message.id);
    // An answer to nothing pending: late (timed out), or a complaint about a line we could not
    // have sent wrong. Counted, never acted on.
    if (request === undefined || message.id === null) {
      this.stats.protocolErrors++;
      return;
    }
    this.#inFlight.delete(message.id);
    if (message.kind === 'error') {
      request.reject(toHalError(message.error));
      return;
    }
    const result = parseResult(request.method, message.result);
    if (result.ok) request.resolve(result.value);
    else request.reject(new HalError('bad-response', `${request.method}: ${result.message}`));
  }
}

const CAR_REFUSALS: ReadonlySet<string> = new Set([
  'no-sharing-interface',
  'doors-open',
  'no-power',
]);

function toHalError(error: BusErrorBody): HalError {
  const code: HalErrorCode = CAR_REFUSALS.has(error.code)
    ? (error.code as HalErrorCode)
    : error.code === 'internal'
      ? 'internal'
      : 'invalid-request';
  return new HalError(code, error.message, { ...error.details });
}
