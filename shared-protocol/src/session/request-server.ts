import { encodeFrame, type Frame } from '../framing/index.js';
import {
  ErrorCode,
  ResponseSchema,
  create,
  decodeRequest,
  encodeResponse,
  type EventInit,
  type Operation,
  type Request,
  type RequestKind,
  type RequestOf,
  type ResponseInitOf,
} from '../messages/index.js';
import { ServiceError } from './errors.js';
import { FrameType } from './frame-type.js';

/** Responses the module keeps to answer a repeated request without running it twice. */
const RESPONSE_CACHE_SIZE = 32;

export interface RequestContext {
  seq: number;
  /** Aborted when the host cancels the request or the link drops. */
  signal: AbortSignal;
  serviceAuthorization: Uint8Array;
  /** Send a Progress event tied to this request. */
  progress(operation: Operation, done: number, total: number, message?: string): void;
  /** Run this once the response has been handed to the channel (e.g. switch the line rate). */
  afterResponse(callback: () => void): void;
}

/** Module side: one handler per request kind it serves; kinds without one get UNSUPPORTED. */
export type RequestHandlers = {
  [K in RequestKind]?: (
    request: RequestOf<K>,
    context: RequestContext,
  ) => ResponseInitOf<K> | Promise<ResponseInitOf<K>>;
};

interface InFlight {
  controller: AbortController;
  requestPayload: Uint8Array;
}

export interface RequestServerOptions {
  /** Write an encoded frame; false when the link is closed. */
  send(frameBytes: Uint8Array): boolean;
  emit(event: EventInit): void;
}

/**
 * The module side of a session: runs handlers for incoming requests, answers repeated requests
 * from a cache (PROTOCOL.md section 5), and aborts handlers on CANCEL or disconnect.
 */
export class RequestServer {
  readonly #options: RequestServerOptions;
  readonly #inFlight = new Map<number, InFlight>();
  readonly #cache = new Map<number, { requestPayload: Uint8Array; frame: Uint8Array }>();
  #handlers: RequestHandlers | undefined;
  /** Requests answered again from the cache (the host repeated them). */
  repeatedRequests = 0;

  constructor(options: RequestServerOptions) {
    this.#options = options;
  }

  serve(handlers: RequestHandlers): void {
    this.#handlers = handlers;
  }

  onCancel(seq: number): void {
    this.#inFlight.get(seq)?.controller.abort();
  }

  abortAll(): void {
    for (const running of this.#inFlight.values()) running.controller.abort();
  }

  onRequest(frame: Frame): void {
    const { seq, payload } = frame;
    const cached = this.#cache.get(seq);
    if (cached && bytesEqual(cached.requestPayload, payload)) {
      // The host repeated a request whose response got lost: answer again, do not run it twice.
      this.repeatedRequests += 1;
      this.#options.send(cached.frame);
      return;
    }
    const running = this.#inFlight.get(seq);
    if (running && bytesEqual(running.requestPayload, payload)) return; // answer comes when done
    const controller = new AbortController();
    this.#inFlight.set(seq, { controller, requestPayload: payload });
    const afterResponse: Array<() => void> = [];
    void this.#handle(seq, payload, controller.signal, afterResponse).then((response) => {
      this.#inFlight.delete(seq);
      const frameBytes = encodeAnswer(seq, response);
      this.#cache.delete(seq);
      this.#cache.set(seq, { requestPayload: payload, frame: frameBytes });
      if (this.#cache.size > RESPONSE_CACHE_SIZE) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      if (this.#options.send(frameBytes)) afterResponse.forEach((callback) => callback());
    });
  }

  /** Run the handler for one request; always resolves to an encoded Response. */
  async #handle(
    seq: number,
    payload: Uint8Array,
    signal: AbortSignal,
    afterResponse: Array<() => void>,
  ): Promise<Uint8Array> {
    const decoded = decodeRequest(payload);
    if (!decoded.ok) {
      return errorResponse(ErrorCode.BAD_REQUEST, `Undecodable request: ${decoded.reason}`);
    }
    const request: Request = decoded.message;
    const kind = request.body.case;
    const handler = kind ? this.#handlers?.[kind] : undefined;
    if (!kind || !handler) {
      return errorResponse(
        ErrorCode.UNSUPPORTED,
        `This module does not serve ${kind ?? 'this request'}`,
      );
    }
    const context: RequestContext = {
      seq,
      signal,
      serviceAuthorization: request.serviceAuthorization,
      progress: (operation, done, total, message = '') =>
        this.#options.emit({
          body: {
            case: 'progress',
            value: {
              operation,
              requestSeq: seq,
              done: BigInt(done),
              total: BigInt(total),
              message,
            },
          },
        }),
      afterResponse: (callback) => afterResponse.push(callback),
    };
    try {
      // The handler map is keyed by kind, so the value matches the handler's parameter type.
      const call = handler as (value: unknown, context: RequestContext) => unknown;
      const value = await call(request.body.value, context);
      if (signal.aborted) return errorResponse(ErrorCode.CANCELLED, `${kind} was cancelled`);
      return encodeResponse(create(ResponseSchema, { body: { case: kind, value } as never }));
    } catch (error) {
      if (error instanceof ServiceError) {
        return errorResponse(error.code, error.message, error.details);
      }
      if (signal.aborted) return errorResponse(ErrorCode.CANCELLED, `${kind} was cancelled`);
      const message = error instanceof Error ? error.message : String(error);
      return errorResponse(ErrorCode.INTERNAL, message);
    }
  }
}

/**
 * The Response frame, or, when the answer does not fit in one frame (a handler's bug, or a message
 * quoting too much of what the host sent), an INTERNAL error that does: the host always gets an
 * answer and the module never throws out of a request.
 */
function encodeAnswer(seq: number, response: Uint8Array): Uint8Array {
  try {
    return encodeFrame({ type: FrameType.Response, seq, payload: response });
  } catch {
    const payload = errorResponse(
      ErrorCode.INTERNAL,
      `The answer (${response.length} bytes) does not fit in one frame; nothing more was sent`,
    );
    return encodeFrame({ type: FrameType.Response, seq, payload });
  }
}

/** Error texts quote what the host sent at times: bounded, so an error answer always fits a frame. */
const MAX_ERROR_MESSAGE = 1000;
const MAX_ERROR_DETAILS = 16;
const MAX_DETAIL_LENGTH = 200;

/**
 * `text` cut to at most `max` characters, an ellipsis marking the cut: for texts that quote what
 * the other end sent (error messages, log lines), so their size stays bounded.
 */
export const clipText = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

function errorResponse(
  code: ErrorCode,
  message: string,
  details: Readonly<Record<string, string>> = {},
): Uint8Array {
  const bounded = Object.fromEntries(
    Object.entries(details)
      .slice(0, MAX_ERROR_DETAILS)
      .map(([key, value]) => [
        clipText(key, MAX_DETAIL_LENGTH),
        clipText(value, MAX_DETAIL_LENGTH),
      ]),
  );
  return encodeResponse(
    create(ResponseSchema, {
      body: {
        case: 'error',
        value: { code, message: clipText(message, MAX_ERROR_MESSAGE), details: bounded },
      },
    }),
  );
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
