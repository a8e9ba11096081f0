import { FrameDecoder, encodeFrame, type Frame } from '../framing/index.js';
import type { Clock, TimerHandle } from '../clock/index.js';
import {
  buildRequest,
  create,
  decodeEvent,
  decodeResponse,
  encodeEvent,
  encodeRequest,
  isIdempotent,
  EventSchema,
  type Event,
  type EventInit,
  type RequestInitOf,
  type RequestKind,
  type ResponseOf,
} from '../messages/index.js';
import type { ByteChannel } from './channel.js';
import { FrameType } from './frame-type.js';
import { RequestServer, type RequestContext, type RequestHandlers } from './request-server.js';
import {
  CancelledError,
  DisconnectedError,
  ProtocolMismatchError,
  RejectedError,
  TimeoutError,
} from './errors.js';

export { FrameType };
export type { RequestContext, RequestHandlers };

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_RETRIES = 2;

export interface ServiceSessionOptions {
  channel: ByteChannel;
  clock: Clock;
  maxFrameSize?: number;
  /** Default time to wait for each attempt's response. */
  timeoutMs?: number;
  /** Default extra attempts for idempotent requests (non-idempotent ones are never repeated). */
  retries?: number;
}

export interface RequestOptions {
  timeoutMs?: number;
  retries?: number;
  signal?: AbortSignal;
  serviceAuthorization?: Uint8Array;
}

export interface ServiceSessionStats {
  framesSent: number;
  framesReceived: number;
  retransmissions: number;
  timeouts: number;
  /** Responses whose request was already answered, timed out or cancelled. */
  unmatchedResponses: number;
  /** Requests answered again from the response cache (the host repeated them). */
  repeatedRequests: number;
  /** Events the module sent that never arrived (gaps in event seq). */
  eventsMissed: number;
  framesDropped: number;
}

interface PendingRequest {
  kind: RequestKind;
  frame: Uint8Array;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  timer: TimerHandle | undefined;
  resolve(value: unknown): void;
  reject(error: Error): void;
  cleanup(): void;
}

/**
 * Request/response over any duplex byte stream (see PROTOCOL.md). The host calls `request`; the
 * module calls `serve` and `emit`. One session lives as long as its channel: after an unplug,
 * open a new channel and a new session.
 */
export class ServiceSession {
  readonly #channel: ByteChannel;
  readonly #clock: Clock;
  readonly #decoder: FrameDecoder;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #pending = new Map<number, PendingRequest>();
  readonly #eventListeners = new Set<(event: Event) => void>();
  readonly #frameListeners = new Set<(frame: Frame) => void>();
  readonly #unsubscribe: Array<() => void>;
  readonly #server: RequestServer;
  #nextSeq = 1;
  #nextEventSeq = 1;
  #lastEventSeq: number | undefined;
  #closedReason: string | undefined;
  readonly #stats = {
    framesSent: 0,
    framesReceived: 0,
    retransmissions: 0,
    timeouts: 0,
    unmatchedResponses: 0,
    eventsMissed: 0,
  };

  constructor(options: ServiceSessionOptions) {
    this.#channel = options.channel;
    this.#clock = options.clock;
    this.#decoder = new FrameDecoder(
      options.maxFrameSize ? { maxFrameSize: options.maxFrameSize } : {},
    );
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#retries = options.retries ?? DEFAULT_RETRIES;
    this.#server = new RequestServer({
      send: (frame) => this.#send(frame),
      emit: (event) => this.emit(event),
    });
    this.#unsubscribe = [
      this.#channel.onData((bytes) => this.#receive(bytes)),
      this.#channel.onClose((reason) => this.#shutdown(reason ?? 'the stream closed')),
    ];
  }

  get closed(): boolean {
    return this.#closedReason !== undefined;
  }

  get stats(): ServiceSessionStats {
    return {
      ...this.#stats,
      repeatedRequests: this.#server.repeatedRequests,
      framesDropped: this.#decoder.stats.framesDropped,
    };
  }

  /** Send a request and wait for its response; rejects with a ServiceLinkError. */
  request<K extends RequestKind>(
    kind: K,
    value: RequestInitOf<K>,
    options: RequestOptions = {},
  ): Promise<ResponseOf<K>> {
    if (this.#closedReason !== undefined) {
      return Promise.reject(new DisconnectedError(this.#closedReason));
    }
    if (options.signal?.aborted) return Promise.reject(new CancelledError(kind));
    const seq = this.#allocateSeq();
    const payload = encodeRequest(buildRequest(kind, value, options.serviceAuthorization));
    const frame = encodeFrame({ type: FrameType.Request, seq, payload });
    const retries = isIdempotent(kind) ? (options.retries ?? this.#retries) : 0;

    return new Promise<ResponseOf<K>>((resolve, reject) => {
      const onAbort = () => {
        this.#settle(seq);
        this.#write({ type: FrameType.Cancel, seq, payload: new Uint8Array(0) });
        reject(new CancelledError(kind));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const pending: PendingRequest = {
        kind,
        frame,
        attempts: 0,
        maxAttempts: 1 + Math.max(0, retries),
        timeoutMs: options.timeoutMs ?? this.#timeoutMs,
        timer: undefined,
        resolve: resolve as (value: unknown) => void,
        reject,
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
      };
      this.#pending.set(seq, pending);
      this.#attempt(seq, pending);
    });
  }

  /** Listen for module events (log lines, progress, state changes). */
  onEvent(listener: (event: Event) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Called for every intact frame received, before it is handled (e.g. to confirm a baud rate). */
  onFrame(listener: (frame: Frame) => void): () => void {
    this.#frameListeners.add(listener);
    return () => this.#frameListeners.delete(listener);
  }

  /** Module side: answer requests with these handlers. */
  serve(handlers: RequestHandlers): void {
    this.#server.serve(handlers);
  }

  /** Module side: send an unsolicited event. */
  emit(event: EventInit): void {
    if (this.#closedReason !== undefined) return;
    const seq = this.#nextEventSeq;
    this.#nextEventSeq = seq === 0xffff ? 1 : seq + 1;
    this.#write({ type: FrameType.Event, seq, payload: encodeEvent(create(EventSchema, event)) });
  }

  /** Forget a partly received frame, e.g. right after both ends changed baud rate. */
  resetFraming(): void {
    this.#decoder.reset();
  }

  /** Stop using the channel; pending requests fail with Disconnected. Does not close the channel. */
  close(reason = 'the session was closed'): void {
    this.#shutdown(reason);
  }

  #allocateSeq(): number {
    // 16-bit ids, 0 reserved for "none"; skip ids still waiting for a response.
    for (let tries = 0; tries < 0xffff; tries++) {
      const seq = this.#nextSeq;
      this.#nextSeq = seq === 0xffff ? 1 : seq + 1;
      if (!this.#pending.has(seq)) return seq;
    }
    throw new RangeError('65535 requests are waiting for a response');
  }

  #attempt(seq: number, pending: PendingRequest): void {
    pending.attempts += 1;
    if (pending.attempts > 1) this.#stats.retransmissions += 1;
    this.#send(pending.frame);
    pending.timer = this.#clock.setTimeout(() => {
      pending.timer = undefined;
      if (pending.attempts < pending.maxAttempts) {
        this.#attempt(seq, pending);
        return;
      }
      this.#stats.timeouts += 1;
      this.#settle(seq);
      pending.reject(new TimeoutError(pending.kind, pending.attempts, pending.timeoutMs));
    }, pending.timeoutMs);
  }

  /** Remove a pending request and its timer; returns it if it was still pending. */
  #settle(seq: number): PendingRequest | undefined {
    const pending = this.#pending.get(seq);
    if (!pending) return undefined;
    this.#pending.delete(seq);
    if (pending.timer !== undefined) this.#clock.clearTimeout(pending.timer);
    pending.cleanup();
    return pending;
  }

  #write(frame: Frame): void {
    this.#send(encodeFrame(frame));
  }

  /** Send an encoded frame; returns false once the session is closed. */
  #send(frameBytes: Uint8Array): boolean {
    if (this.#closedReason !== undefined) return false;
    this.#channel.write(frameBytes);
    this.#stats.framesSent += 1;
    return true;
  }

  #receive(bytes: Uint8Array): void {
    for (const frame of this.#decoder.push(bytes)) {
      this.#stats.framesReceived += 1;
      for (const listener of this.#frameListeners) listener(frame);
      switch (frame.type) {
        case FrameType.Response:
          this.#onResponse(frame);
          break;
        case FrameType.Request:
          this.#server.onRequest(frame);
          break;
        case FrameType.Event:
          this.#onEvent(frame);
          break;
        case FrameType.Cancel:
          this.#server.onCancel(frame.seq);
          break;
        default:
          // A frame type from a newer protocol: ignored, as PROTOCOL.md requires.
          break;
      }
    }
  }

  #onResponse(frame: Frame): void {
    const pending = this.#settle(frame.seq);
    if (!pending) {
      this.#stats.unmatchedResponses += 1;
      return;
    }
    const decoded = decodeResponse(frame.payload);
    if (!decoded.ok) {
      pending.reject(
        new ProtocolMismatchError(`Undecodable response to ${pending.kind}: ${decoded.reason}`),
      );
      return;
    }
    const body = decoded.message.body;
    if (body.case === 'error') {
      const { code, message, details } = body.value;
      pending.reject(new RejectedError(pending.kind, code, message, details));
    } else if (body.case !== pending.kind) {
      pending.reject(
        new ProtocolMismatchError(
          `The module answered ${pending.kind} with ${body.case ?? 'an unknown response'}`,
        ),
      );
    } else {
      pending.resolve(body.value);
    }
  }

  #onEvent(frame: Frame): void {
    if (this.#lastEventSeq !== undefined) {
      const expected = this.#lastEventSeq === 0xffff ? 1 : this.#lastEventSeq + 1;
      if (frame.seq !== expected) {
        this.#stats.eventsMissed += (frame.seq - expected + 0xffff) % 0xffff;
      }
    }
    this.#lastEventSeq = frame.seq;
    const decoded = decodeEvent(frame.payload);
    if (!decoded.ok) return;
    for (const listener of this.#eventListeners) listener(decoded.message);
  }

  #shutdown(reason: string): void {
    if (this.#closedReason !== undefined) return;
    this.#closedReason = reason;
    this.#unsubscribe.forEach((unsubscribe) => unsubscribe());
    for (const seq of [...this.#pending.keys()]) {
      this.#settle(seq)?.reject(new DisconnectedError(reason));
    }
    this.#server.abortAll();
  }
}
