import { ErrorCode } from '../messages/index.js';
import type { RequestKind } from '../messages/index.js';

/** Every way a service-link request can fail, as a stable discriminant for hosts to map to words. */
export type ServiceLinkFailure =
  'timeout' | 'disconnected' | 'rejected' | 'protocol-mismatch' | 'cancelled';

export abstract class ServiceLinkError extends Error {
  abstract readonly failure: ServiceLinkFailure;
}

/** No response after every allowed attempt. */
export class TimeoutError extends ServiceLinkError {
  readonly failure = 'timeout';
  constructor(
    readonly kind: RequestKind,
    readonly attempts: number,
    readonly timeoutMs: number,
  ) {
    super(
      `The module did not answer ${kind} (${attempts} attempt${attempts === 1 ? '' : 's'}, ${timeoutMs} ms each)`,
    );
    this.name = 'TimeoutError';
  }
}

/** The byte stream closed (cable unplugged, port closed) before the response came. */
export class DisconnectedError extends ServiceLinkError {
  readonly failure = 'disconnected';
  constructor(readonly reason?: string) {
    super(`The service link is disconnected${reason ? `: ${reason}` : ''}`);
    this.name = 'DisconnectedError';
  }
}

/** The module answered with an error. */
export class RejectedError extends ServiceLinkError {
  readonly failure = 'rejected';
  constructor(
    readonly kind: RequestKind,
    readonly code: ErrorCode,
    readonly moduleMessage: string,
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(`The module refused ${kind}: ${ErrorCode[code] ?? `code ${code}`}: ${moduleMessage}`);
    this.name = 'RejectedError';
  }
}

/** The peer speaks another protocol version, or sent something that does not fit the protocol. */
export class ProtocolMismatchError extends ServiceLinkError {
  readonly failure = 'protocol-mismatch';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolMismatchError';
  }
}

/** The caller aborted the request through its AbortSignal. */
export class CancelledError extends ServiceLinkError {
  readonly failure = 'cancelled';
  constructor(readonly kind: RequestKind) {
    super(`${kind} was cancelled`);
    this.name = 'CancelledError';
  }
}

/** Thrown by a module-side handler to answer with a specific error code. */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
