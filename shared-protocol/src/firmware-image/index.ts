// Signed firmware images: byte layout, builder, strict header parser and streaming verifier.
// No I/O; runs in Node and browsers. The format is written up in PROTOCOL.md "Firmware images".
export type {
  FirmwareHeader,
  FirmwareHeaderFields,
  FirmwareHeaderParse,
  FirmwareVersion,
} from './layout.js';
export {
  FIRMWARE_HEADER_LENGTH,
  FIRMWARE_HEADER_OFFSETS,
  FIRMWARE_IMAGE_FORMAT_VERSION,
  FIRMWARE_IMAGE_MAGIC,
  FIRMWARE_SIGNATURE_LENGTH,
  HARDWARE_REVISION_SLOT_LENGTH,
  MAX_HARDWARE_REVISIONS,
  encodeFirmwareHeader,
  firmwareImageLength,
  formatFirmwareVersion,
  isHardwareRevisionId,
  parseFirmwareHeader,
} from './layout.js';
export type { FirmwareImageInput } from './build.js';
export {
  FIRMWARE_IMAGE_SIGNING_DOMAIN,
  buildFirmwareImage,
  firmwareImageSigningInput,
} from './build.js';
export type {
  FirmwareHeaderRejection,
  FirmwareHeaderRejectionReason,
  FirmwareImageRejection,
  FirmwareImageRejectionReason,
  FirmwareImageVerdict,
} from './verdict.js';
export { FIRMWARE_IMAGE_REJECTION_REASONS } from './verdict.js';
export type { FirmwareImageVerifier, FirmwareImageVerifierOptions } from './verifier.js';
export { createFirmwareImageVerifier, verifyFirmwareImage } from './verifier.js';
