/**
 * What a slot holds and how far the boot loader trusts it: the slot's metadata record (JSON, one
 * per slot, replaced atomically like any record). Storage enforces only what keeps bytes and
 * metadata consistent (no "verified" before the image is complete); which slot boots is the boot
 * loader's policy.
 */
import type { FirmwareVersion } from '@mini-sharing/shared-protocol/firmware-image';

export const SLOT_IDS = ['A', 'B'] as const;
export type SlotId = (typeof SLOT_IDS)[number];

export const SLOT_STATES = [
  /** Nothing in the slot. */
  'empty',
  /** An image is being written; bytes below the committed offset are durable. */
  'writing',
  /** All bytes are in and hash to the SHA-256 the write began with; not yet verified. */
  'complete',
  /** The boot loader checked hash, signature, hardware and security counter. */
  'verified',
  /** Booted once on trial; reverts unless the firmware confirms itself. */
  'trial',
  /** Confirmed by the firmware after its start-up self-check. */
  'confirmed',
  /** Failed a check or its metadata is damaged: never to be booted. */
  'invalid',
] as const;
export type SlotState = (typeof SLOT_STATES)[number];

/** States in which every byte of the image is in the slot. */
export const FULL_IMAGE_STATES: readonly SlotState[] = [
  'complete',
  'verified',
  'trial',
  'confirmed',
];

/** The stored JSON. */
export interface SlotMetaRecord {
  readonly state: SlotState;
  /** Raised on every new write or erase; ties the committed-offset record to this write. */
  readonly generation: number;
  /** Lowercase hex SHA-256 of the whole image; absent when empty. */
  readonly imageSha256?: string;
  readonly totalLength?: number;
  /** Set by the boot loader when it verifies the image. */
  readonly version?: FirmwareVersion;
  readonly securityCounter?: number;
  /** Why the slot is invalid, in words for a diagnosis. */
  readonly reason?: string;
}

/** How the boot loader moves a slot on (the other states belong to writing and erasing). */
export type SlotStateUpdate =
  | {
      readonly state: 'verified';
      readonly version: FirmwareVersion;
      readonly securityCounter: number;
    }
  | { readonly state: 'trial' | 'confirmed' }
  | { readonly state: 'invalid'; readonly reason: string };

export const EMPTY_SLOT_META: SlotMetaRecord = { state: 'empty', generation: 0 };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isUint = (value: unknown, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;

export const isFirmwareVersion = (value: unknown): value is FirmwareVersion =>
  isObject(value) &&
  isUint(value.major, 0xffff) &&
  isUint(value.minor, 0xffff) &&
  isUint(value.patch, 0xffff);

export function isSlotMetaRecord(value: unknown): value is SlotMetaRecord {
  if (!isObject(value)) return false;
  if (!SLOT_STATES.includes(value.state as SlotState)) return false;
  if (!isUint(value.generation, 0xffffffff)) return false;
  const hasImage = value.imageSha256 !== undefined || value.totalLength !== undefined;
  if (hasImage || (value.state !== 'empty' && value.state !== 'invalid')) {
    if (typeof value.imageSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(value.imageSha256)) {
      return false;
    }
    if (!isUint(value.totalLength, 0xffffffff) || value.totalLength === 0) return false;
  }
  if (value.version !== undefined && !isFirmwareVersion(value.version)) return false;
  if (value.securityCounter !== undefined && !isUint(value.securityCounter, 0xffffffff)) {
    return false;
  }
  return value.reason === undefined || typeof value.reason === 'string';
}
