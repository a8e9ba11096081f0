/**
 * Recognition material: what the cloud gives a key holder so the phone can recognise its car's
 * advertisements. It is the list of window tags (identifier + state mask) for exactly the windows
 * that overlap the key's validity, never the module's secret, so it recognises nothing outside
 * them: windows are 15 minutes, so recognition starts at most one window before the validity and
 * ends at most one window after it.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { bytesEqual } from '../crypto/bytes.js';
import { AdvertisementRecognitionSchema } from '../messages/gen/mini/key/v1/key_link_pb.js';
import {
  ADVERTISING_WINDOW_MS,
  ROTATING_IDENTIFIER_LENGTH,
  decodeAdvertisedState,
  windowIndexAt,
  windowStartMs,
  windowTag,
  type AdvertisedState,
  type AdvertisementPayload,
} from './advertisement.js';

/** Bytes per window: 8-byte identifier + 1-byte state mask. */
export const RECOGNITION_ENTRY_SIZE = ROTATING_IDENTIFIER_LENGTH + 1;
/** The cloud issues material for at most 31 days at a time (owner keys get it refreshed). */
export const RECOGNITION_MAX_WINDOWS = (31 * 24 * 60 * 60 * 1000) / ADVERTISING_WINDOW_MS;
/** A phone's and a module's clock may differ by up to one window either way. */
export const RECOGNITION_SKEW_WINDOWS = 1;

export interface RecognitionMaterial {
  /** Index of the first window covered. */
  firstWindow: number;
  /** RECOGNITION_ENTRY_SIZE bytes per window, consecutive from firstWindow. */
  windows: Uint8Array;
}

/**
 * The cloud's side: material for a key valid over [validFromMs, validUntilMs). Throws RangeError
 * for an empty range or one over RECOGNITION_MAX_WINDOWS windows.
 */
export function recognitionMaterialFor(
  secret: Uint8Array,
  validFromMs: number,
  validUntilMs: number,
): RecognitionMaterial {
  if (!(validUntilMs > validFromMs)) throw new RangeError('the validity range is empty');
  const firstWindow = windowIndexAt(validFromMs);
  const count = windowIndexAt(validUntilMs - 1) - firstWindow + 1;
  if (count > RECOGNITION_MAX_WINDOWS) {
    throw new RangeError(`material for ${count} windows is over ${RECOGNITION_MAX_WINDOWS}`);
  }
  const windows = new Uint8Array(count * RECOGNITION_ENTRY_SIZE);
  for (let i = 0; i < count; i++) {
    const tag = windowTag(secret, firstWindow + i);
    windows.set(tag.identifier, i * RECOGNITION_ENTRY_SIZE);
    windows[i * RECOGNITION_ENTRY_SIZE + ROTATING_IDENTIFIER_LENGTH] = tag.stateMask;
  }
  return { firstWindow, windows };
}

/** Number of windows the material covers. */
export const recognitionWindowCount = (material: RecognitionMaterial): number =>
  Math.floor(material.windows.length / RECOGNITION_ENTRY_SIZE);

/** The time span the material recognises the car in: [fromMs, untilMs). */
export function recognitionCoverage(material: RecognitionMaterial): {
  fromMs: number;
  untilMs: number;
} {
  return {
    fromMs: windowStartMs(material.firstWindow),
    untilMs: windowStartMs(material.firstWindow + recognitionWindowCount(material)),
  };
}

export const encodeRecognitionMaterial = (material: RecognitionMaterial): Uint8Array =>
  toBinary(
    AdvertisementRecognitionSchema,
    create(AdvertisementRecognitionSchema, {
      firstWindow: BigInt(material.firstWindow),
      windows: material.windows,
    }),
  );

/** Undefined when the bytes are not material (bad encoding, entries not whole). Never throws. */
export function decodeRecognitionMaterial(bytes: Uint8Array): RecognitionMaterial | undefined {
  try {
    const message = fromBinary(AdvertisementRecognitionSchema, bytes);
    const count = message.windows.length / RECOGNITION_ENTRY_SIZE;
    if (!Number.isInteger(count) || count === 0 || count > RECOGNITION_MAX_WINDOWS)
      return undefined;
    if (message.firstWindow > BigInt(Number.MAX_SAFE_INTEGER - count)) return undefined;
    return { firstWindow: Number(message.firstWindow), windows: message.windows };
  } catch {
    return undefined;
  }
}

export type AdvertisementMatch =
  { mine: true; windowIndex: number; state: AdvertisedState | undefined } | { mine: false };

/**
 * The key holder's side: does this advertisement belong to my car, now? Compares with the tags
 * of the phone's current window and its neighbours (clock skew), only where the material has
 * them, so an advertisement recorded in one window and replayed much later does not match.
 * `state` is undefined if it does not unmask cleanly (a newer layout). Never throws.
 */
export function matchAdvertisement(
  material: RecognitionMaterial,
  advertisement: AdvertisementPayload,
  nowMs: number,
): AdvertisementMatch {
  const count = recognitionWindowCount(material);
  const current = windowIndexAt(nowMs);
  if (!Number.isSafeInteger(current)) return { mine: false };
  // Most likely first: same window, then the skewed neighbours.
  for (const delta of [0, -RECOGNITION_SKEW_WINDOWS, RECOGNITION_SKEW_WINDOWS]) {
    const index = current + delta - material.firstWindow;
    if (index < 0 || index >= count) continue;
    const offset = index * RECOGNITION_ENTRY_SIZE;
    const identifier = material.windows.subarray(offset, offset + ROTATING_IDENTIFIER_LENGTH);
    if (bytesEqual(identifier, advertisement.identifier)) {
      const mask = material.windows[offset + ROTATING_IDENTIFIER_LENGTH] as number;
      return {
        mine: true,
        windowIndex: current + delta,
        state: decodeAdvertisedState((advertisement.maskedState ^ mask) & 0xff),
      };
    }
  }
  return { mine: false };
}
