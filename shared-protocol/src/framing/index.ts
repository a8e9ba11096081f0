// Service-link frame codec: COBS framing with CRC-32C. No I/O and no clock.
export type { Frame, FrameSizeOptions } from './frame.js';
export { DEFAULT_MAX_FRAME_SIZE, FRAME_OVERHEAD, encodeFrame, maxEncodedSize } from './frame.js';
export type { FrameDecoderStats, FrameDropReason } from './decoder.js';
export { FrameDecoder } from './decoder.js';
