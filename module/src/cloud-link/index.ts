// The module's cloud link (MQTT, PROTOCOL.md section 16): start it with startCloudLink; the
// access controller implements CloudCommandTarget.
export {
  startCloudLink,
  type CloudLink,
  type CloudLinkDeps,
  type CloudLinkLog,
  type CloudLinkOptions,
  type CloudLinkState,
  type CloudLinkStatus,
  type LogLevel,
} from './cloud-link.js';
export type {
  AccessEvent,
  CloudCommandTarget,
  FaultCodeSource,
  ModuleEventInit,
  StoredFaultCode,
  TargetAnswer,
  TargetBooking,
} from './command-target.js';
