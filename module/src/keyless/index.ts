// Keyless access (issue #7): the policy engine between digital keys and the car, its persistent
// state, and the key link on BLE. The firmware starts it with `startKeylessAccess`; the cloud
// link talks to `AccessController`. `testing/` is for tests and benchmarks only.
export type {
  AccessEndAction,
  AccessEvent,
  AccessEventType,
  AccessReason,
  AccessRefusal,
  BookingEndReason,
  CarStateView,
  KeylessLog,
  LogLevel,
  RunningBooking,
} from './access-events.js';
export { resultCodeForAccessReason } from './access-events.js';
export type { AccessControllerDeps } from './access-controller.js';
export { AccessController } from './access-controller.js';
export type { AccessState } from './access-state.js';
export { ACCESS_STATE_RECORD, AccessStateStore } from './access-state.js';
export type {
  CloudCommandOutcome,
  CloudCommandStatus,
  NewOwnerResetOutcome,
  RevocationListOutcome,
} from './cloud-commands.js';
export type {
  CommandAccepted,
  CommandRefused,
  IssuedChallenge,
  KeyAccepted,
} from './key-checks.js';
export type {
  KeyLinkAccess,
  KeyLinkSessionOptions,
  KeyLinkSessionStats,
} from './key-link-session.js';
export { KEYLESS_CHALLENGE_VALID_FOR_MS, KeyLinkSession } from './key-link-session.js';
export type { KeylessAccess, KeylessAccessDeps } from './start.js';
export { startKeylessAccess } from './start.js';
