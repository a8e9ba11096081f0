/**
 * Failures as the mechanic should see them: what went wrong and what to do next. The session's
 * errors say what happened on the wire; these add the action, so every host (workshop app, tests,
 * CLI) shows the same advice and no host has to know the error codes by heart.
 */
import { ErrorCode, type RequestKind } from '../messages/index.js';
import {
  CancelledError,
  DisconnectedError,
  ProtocolMismatchError,
  RejectedError,
  ServiceLinkError,
  TimeoutError,
  type ServiceLinkFailure,
} from '../session/index.js';

/** What the host should offer next: a button, more or less. */
export type NextStep = 'retry' | 'resume' | 'update' | 'contact-support' | 'none';

export class ServiceClientError extends Error {
  constructor(
    message: string,
    /** The sentence to show next to the button: what the mechanic does now. */
    readonly action: string,
    readonly next: NextStep,
    /** The session failure underneath, when there is one. */
    readonly failure: ServiceLinkFailure | undefined,
    /** The module's error code when it refused. */
    readonly code: ErrorCode | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${message} ${action}`, options);
    this.name = 'ServiceClientError';
  }
}

function volts(details: Readonly<Record<string, string>>): string {
  const millivolts = Number(details.millivolts);
  return Number.isFinite(millivolts) && millivolts > 0
    ? `The 12 V supply is at ${(millivolts / 1000).toFixed(1)} V.`
    : 'The 12 V supply is too low.';
}

type Advice = [message: string, action: string, next: NextStep];

function adviceForCode(error: RejectedError, inFlash: boolean): Advice {
  const retryOrResume: NextStep = inFlash ? 'resume' : 'retry';
  switch (error.code) {
    case ErrorCode.SUPPLY_VOLTAGE_LOW:
      return [volts(error.details), 'Connect the charger (13.0 V or more), then Retry.', 'retry'];
    case ErrorCode.AUTHORIZATION_REQUIRED:
    case ErrorCode.AUTHORIZATION_INVALID:
      return [
        `The module refused the service authorization (${error.moduleMessage}).`,
        'Sign in at a registered station, request an authorization for this module, then Retry.',
        'retry',
      ];
    case ErrorCode.BUSY:
      return ['The module is busy with another operation.', 'Wait a moment, then Retry.', 'retry'];
    case ErrorCode.PRECONDITION_FAILED:
      return [`The car is not ready: ${error.moduleMessage}.`, 'Fix that, then Retry.', 'retry'];
    case ErrorCode.NO_SHARING_INTERFACE:
      return [
        'This car has no 5GE interface.',
        'The retrofit cannot be installed in this car.',
        'none',
      ];
    case ErrorCode.IMAGE_INCOMPATIBLE:
    case ErrorCode.IMAGE_SIGNATURE_INVALID:
    case ErrorCode.IMAGE_DOWNGRADE:
      return [
        `The module refused this firmware image: ${error.moduleMessage}.`,
        'Download the current release for this hardware, then flash again.',
        'none',
      ];
    case ErrorCode.IMAGE_HASH_MISMATCH:
    case ErrorCode.IMAGE_INCOMPLETE:
      return [
        `The image on the module is not complete or not intact: ${error.moduleMessage}.`,
        'Flash again from the start.',
        'retry',
      ];
    case ErrorCode.UNSUPPORTED:
      return [
        `The module does not support ${error.kind} in this mode.`,
        'Update the module firmware (recovery flash), then Retry.',
        'update',
      ];
    default:
      return [
        `The module refused ${error.kind}: ${ErrorCode[error.code] ?? error.code}: ${error.moduleMessage}.`,
        inFlash ? 'Resume the transfer; if it fails again, contact support.' : 'Retry.',
        retryOrResume,
      ];
  }
}

/**
 * Wrap any failure of a service-link call into a ServiceClientError. `inFlash` makes link
 * failures offer Resume, because a flash keeps its committed offset (PROTOCOL.md section 11).
 */
export function toServiceClientError(
  error: unknown,
  kind: RequestKind,
  inFlash = false,
): ServiceClientError {
  if (error instanceof ServiceClientError) return error;
  const again = inFlash ? 'Resume' : 'Retry';
  const next: NextStep = inFlash ? 'resume' : 'retry';
  let advice: Advice;
  if (error instanceof RejectedError) advice = adviceForCode(error, inFlash);
  else if (error instanceof TimeoutError)
    advice = ['The module stopped answering.', `Check the cable, then ${again}.`, next];
  else if (error instanceof DisconnectedError)
    advice = ['The service cable was disconnected.', `Reconnect it, then ${again}.`, next];
  else if (error instanceof CancelledError)
    advice = [
      'Cancelled.',
      inFlash ? 'Resume later to continue where it stopped.' : 'Nothing was changed.',
      inFlash ? 'resume' : 'none',
    ];
  else if (error instanceof ProtocolMismatchError)
    advice = [error.message, 'Update the out-of-date side, then Retry.', 'update'];
  else
    advice = [
      `Unexpected failure during ${kind}: ${error instanceof Error ? error.message : String(error)}.`,
      'Retry; if it fails again, contact support.',
      'contact-support',
    ];
  const failure = error instanceof ServiceLinkError ? error.failure : undefined;
  const code = error instanceof RejectedError ? error.code : undefined;
  return new ServiceClientError(advice[0], advice[1], advice[2], failure, code, { cause: error });
}
