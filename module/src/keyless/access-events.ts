/**
 * What keyless access tells the rest of the firmware: the typed reasons it refuses with (each
 * with its wire result code), the events the cloud link turns into reports, and the log callback.
 */
import {
  RESULT_CODE_FOR_COMMAND_REASON,
  RESULT_CODE_FOR_POLICY_REASON,
  RESULT_CODE_FOR_REVOCATION_REASON,
  ResultCode,
  type KeyLinkPolicyReason,
} from '@mini-sharing/shared-protocol/gatt';
import type {
  CommandKind,
  CommandReason,
  HolderRole,
  RevocationListReason,
} from '@mini-sharing/shared-protocol/trust';

/** Why a key or a command was refused: a verifier reason or one of the module's own rules. */
export type AccessReason =
  | CommandReason
  | Extract<
      KeyLinkPolicyReason,
      'access-ended' | 'car-being-driven' | 'doors-open' | 'vehicle-not-responding' | 'internal'
    >
  | 'unsupported';

export const resultCodeForAccessReason = (reason: AccessReason): ResultCode =>
  reason in RESULT_CODE_FOR_COMMAND_REASON
    ? RESULT_CODE_FOR_COMMAND_REASON[reason as CommandReason]
    : RESULT_CODE_FOR_POLICY_REASON[reason as KeyLinkPolicyReason];

export const resultCodeForRevocationReason = (reason: RevocationListReason): ResultCode =>
  RESULT_CODE_FOR_REVOCATION_REASON[reason];

export interface AccessRefusal {
  ok: false;
  reason: AccessReason;
  code: ResultCode;
  /** English, for logs; the phone shows its own sentence per code. */
  message: string;
}

export const refusal = (reason: AccessReason, message: string): AccessRefusal => ({
  ok: false,
  reason,
  code: resultCodeForAccessReason(reason),
  message,
});

/** The car as a key holder sees it (the key link's CarState). */
export interface CarStateView {
  locked: boolean;
  allClosed: boolean;
  ignitionOn: boolean;
  driveEnabled: boolean;
}

/** A booking the module knows is running, as other firmware parts read it. */
export interface RunningBooking {
  bookingId: string;
  tokenId: Uint8Array;
  /** For shared-protocol's `positionAllowed(running)`: no position during a driver's booking. */
  role: HolderRole;
  startedAtMs: number;
  bookingEndMs: number;
  /** Bluetooth access for the booking's key ends at the first parking after this. */
  notAfterMs: number;
  source: 'cloud' | 'first-key-use';
}

/** What a parked car did when a driver's access ended (reports.proto AccessEndAction). */
export type AccessEndAction = 'locked' | 'already-locked' | 'not-locked-open';

export type BookingEndReason =
  /** The cloud's `booking_ended`, applied once the car was parked. */
  | 'ended-online'
  /** Its key was revoked (list from the cloud or relayed by a phone). */
  | 'revoked'
  /** Overdue by more than 30 minutes and parked. */
  | 'overdue'
  /** Another booking's key was used: the cloud never confirms overlapping bookings. */
  | 'superseded'
  /** A new-owner reset forgot every booking of the previous owner. */
  | 'new-owner';

export type AccessEvent =
  | {
      type: 'key-used';
      /** Empty when the token did not decode. */
      tokenId: Uint8Array;
      bookingId: string;
      role: HolderRole;
      /** UNSPECIFIED for a key presentation. */
      command: CommandKind;
      timeMs: number;
      result: 'ok' | AccessReason;
      code: ResultCode;
    }
  | { type: 'booking-started-at-car'; booking: RunningBooking }
  | { type: 'booking-ended-at-car'; booking: RunningBooking; reason: BookingEndReason }
  | {
      type: 'access-ended';
      bookingId: string;
      tokenId: Uint8Array;
      action: AccessEndAction;
      timeMs: number;
    }
  /** A driver's booking ended: the cloud link may send the parking position now. */
  | { type: 'parked-position-wanted'; bookingId: string }
  | { type: 'trip-started'; bookingId: string; tokenId: Uint8Array; role: HolderRole }
  | { type: 'trip-ended'; bookingId: string; tokenId: Uint8Array; role: HolderRole }
  | { type: 'revocation-list-applied'; sequence: bigint; source: 'cloud' | 'phone' }
  | { type: 'owner-generation-raised'; ownerGeneration: number };

export type AccessEventType = AccessEvent['type'];

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** The module log (another part keeps it in a ring buffer). */
export type KeylessLog = (level: LogLevel, component: string, message: string) => void;

export { ResultCode };
