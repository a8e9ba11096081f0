/**
 * One error type for every HAL driver, with a stable code, so firmware logic (and the service
 * link's error mapping) branches on codes, never on message text or on which driver is fitted.
 */
export type HalErrorCode =
  /** The car has no 5GE sharing interface (no option 5GE): the module cannot reach the car. */
  | 'no-sharing-interface'
  /** The car refused to lock: a door, the tailgate or the bonnet is open (`details.openDoors`). */
  | 'doors-open'
  /** The car's 12 V supply is gone. */
  | 'no-power'
  /** The driver could not reach the hardware (bus down, still connecting). */
  | 'bus-unavailable'
  /** The connection to the hardware dropped while the request was in flight; it may have run. */
  | 'disconnected'
  /** No answer within the request's time limit; the command may have run. */
  | 'timeout'
  /** The hardware speaks another protocol version. */
  | 'protocol-mismatch'
  /** The hardware answered something the driver cannot read. */
  | 'bad-response'
  /** The hardware says the request itself was malformed: a driver bug. */
  | 'invalid-request'
  /** The driver was closed. */
  | 'closed'
  | 'internal';

export class HalError extends Error {
  override readonly name = 'HalError';

  constructor(
    readonly code: HalErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export function isHalError(error: unknown, code?: HalErrorCode): error is HalError {
  return error instanceof HalError && (code === undefined || error.code === code);
}
