/**
 * The host side of the service link: the one client the workshop app and the module's tests share.
 * Transport-agnostic (it talks through a ServiceSession) and time-agnostic (an injected Clock).
 */
export {
  ServiceClient,
  type CallOptions,
  type ConnectResult,
  type ServiceClientOptions,
  type SignProof,
} from './service-client.js';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_RESENDS,
  DEFAULT_VERIFY_TIMEOUT_MS,
  DEFAULT_WINDOW,
  FlashSender,
  type FlashOptions,
  type FlashProgress,
  type FlashResult,
  type FlashStats,
} from './flash-sender.js';
export { ServiceClientError, toServiceClientError, type NextStep } from './errors.js';
export { DEFAULT_SPEED_WINDOW_MS, Speedometer } from './speedometer.js';
export {
  DEFAULT_SEGMENT_SIZE,
  MAX_SEGMENTS,
  deflateRaw,
  deflateRawSegments,
  inflateRaw,
  inflateRawSegments,
  type SegmentedDeflate,
} from './compression.js';
