export type { ByteChannel } from './channel.js';
export { hello } from './hello.js';
export { createChannelPair } from './channel.js';
export { clipText } from './request-server.js';
export { channelFromStream, type DuplexStreamLike } from './stream-channel.js';
export {
  CancelledError,
  DisconnectedError,
  ProtocolMismatchError,
  RejectedError,
  ServiceError,
  ServiceLinkError,
  TimeoutError,
  type ServiceLinkFailure,
} from './errors.js';
export {
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  FrameType,
  ServiceSession,
  type RequestContext,
  type RequestHandlers,
  type RequestOptions,
  type ServiceSessionOptions,
  type ServiceSessionStats,
} from './service-session.js';
export {
  BAUD_RATES,
  BaudRateFollower,
  DEFAULT_REVERT_AFTER_MS,
  HOST_PROBE_DELAY_MS,
  MODULE_SWITCH_DELAY_MS,
  INITIAL_BAUD_RATE,
  MAX_REVERT_AFTER_MS,
  negotiateBaudRate,
  type BaudAttempt,
  type BaudNegotiationOptions,
  type BaudNegotiationResult,
  type BaudRateFollowerOptions,
} from './baud.js';
