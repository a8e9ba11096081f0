/**
 * What a firmware image check answers. Reasons are a stable enum for code (the module maps them
 * to flash errors, the workshop app to actions); messages are sentences a mechanic can act on.
 */
import type { FirmwareHeader } from './layout.js';

/**
 * Every reason an image is refused, in the order the checks run; the first failing check gives
 * the verdict. `truncated` sits where the image length is checked, but also stands for any
 * earlier check whose bytes never arrived (an image cut inside its header).
 */
export const FIRMWARE_IMAGE_REJECTION_REASONS = [
  'bad-magic',
  'unsupported-format-version',
  'malformed-header',
  'unknown-key',
  'incompatible-hardware',
  'downgrade',
  'truncated',
  'trailing-data',
  'hash-mismatch',
  'bad-signature',
] as const;

export type FirmwareImageRejectionReason = (typeof FIRMWARE_IMAGE_REJECTION_REASONS)[number];

/** The reasons that only need the header bytes (parseFirmwareHeader). */
export type FirmwareHeaderRejectionReason = Extract<
  FirmwareImageRejectionReason,
  'bad-magic' | 'unsupported-format-version' | 'malformed-header' | 'truncated'
>;

export interface FirmwareImageRejection<
  Reason extends FirmwareImageRejectionReason = FirmwareImageRejectionReason,
> {
  readonly ok: false;
  readonly reason: Reason;
  readonly message: string;
}

export type FirmwareHeaderRejection = FirmwareImageRejection<FirmwareHeaderRejectionReason>;

export type FirmwareImageVerdict =
  { readonly ok: true; readonly header: FirmwareHeader } | FirmwareImageRejection;

export const rejection = <Reason extends FirmwareImageRejectionReason>(
  reason: Reason,
  message: string,
): FirmwareImageRejection<Reason> => ({ ok: false, reason, message });
