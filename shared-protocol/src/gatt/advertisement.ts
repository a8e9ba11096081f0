/**
 * The module's BLE advertisement (PROTOCOL.md "Advertisement"): the key service UUID, a rotating
 * identifier and the car's state masked per window. Only someone holding the window's tag (the
 * cloud gives them with a key, see recognition.ts) can tell which car it is or read its state; to
 * everyone else two windows' advertisements look unrelated.
 */
import { utf8 } from '../crypto/bytes.js';
import { hmacSha256 } from '../crypto/hash.js';
import { KEY_SERVICE_UUID, uuidToAirBytes } from './uuids.js';

/** Identifiers rotate every 15 minutes (windows aligned to the Unix epoch). */
export const ADVERTISING_WINDOW_MS = 15 * 60 * 1000;
export const ROTATING_IDENTIFIER_LENGTH = 8;
/** The per-module secret shared by module and cloud; at least this long. */
export const ADVERTISING_SECRET_MIN_LENGTH = 16;
/** Legacy (BLE 4.x) advertising data limit. */
export const LEGACY_ADVERTISING_DATA_MAX = 31;
/** Layout version, the first byte of the service data. */
export const ADVERTISEMENT_LAYOUT_VERSION = 1;

const AD_TYPE_FLAGS = 0x01;
const AD_TYPE_SERVICE_DATA_128 = 0x21;
/** LE General Discoverable Mode | BR/EDR Not Supported. */
const FLAGS_VALUE = 0x06;
const SERVICE_UUID_AIR = uuidToAirBytes(KEY_SERVICE_UUID);
/** version | identifier | masked state. */
export const ADVERTISEMENT_SERVICE_DATA_SIZE = 1 + ROTATING_IDENTIFIER_LENGTH + 1;
/** Flags AD (3) + service data AD (2 + 16 + 10) = 31. */
export const ADVERTISEMENT_SIZE = 3 + 2 + SERVICE_UUID_AIR.length + ADVERTISEMENT_SERVICE_DATA_SIZE;

const TAG_LABEL = utf8('mini-sharing/advertisement/v1\0');

/** Index of the window containing `timeMs` (ms since the Unix epoch). */
export const windowIndexAt = (timeMs: number): number => Math.floor(timeMs / ADVERTISING_WINDOW_MS);

/** Start of window `windowIndex`, ms since the Unix epoch. */
export const windowStartMs = (windowIndex: number): number => windowIndex * ADVERTISING_WINDOW_MS;

/** What a holder needs for one window: the identifier and the state mask. */
export interface WindowTag {
  identifier: Uint8Array;
  stateMask: number;
}

/**
 * HMAC-SHA256(secret, "mini-sharing/advertisement/v1" 0x00 | window:u64 LE): bytes 0..7 are the
 * rotating identifier, byte 8 the state mask. Throws RangeError for a short secret or a window
 * index that is not a non-negative safe integer.
 */
export function windowTag(secret: Uint8Array, windowIndex: number): WindowTag {
  if (secret.length < ADVERTISING_SECRET_MIN_LENGTH) {
    throw new RangeError(
      `an advertising secret is at least ${ADVERTISING_SECRET_MIN_LENGTH} bytes`,
    );
  }
  if (!Number.isSafeInteger(windowIndex) || windowIndex < 0) {
    throw new RangeError('a window index is a non-negative safe integer');
  }
  const input = new Uint8Array(TAG_LABEL.length + 8);
  input.set(TAG_LABEL);
  new DataView(input.buffer).setBigUint64(TAG_LABEL.length, BigInt(windowIndex), true);
  const mac = hmacSha256(secret, input);
  return {
    identifier: mac.slice(0, ROTATING_IDENTIFIER_LENGTH),
    stateMask: mac[ROTATING_IDENTIFIER_LENGTH] as number,
  };
}

/** The 8-byte identifier the module advertises during `windowIndex`. */
export const rotatingIdentifier = (secret: Uint8Array, windowIndex: number): Uint8Array =>
  windowTag(secret, windowIndex).identifier;

/**
 * The car's state as advertised (masked). Chosen because a holder walking up or away wants it
 * without connecting (did the car lock?), and it is safe once masked: see PROTOCOL.md.
 */
export interface AdvertisedState {
  locked: boolean;
  /** Every door, the tailgate and the bonnet closed. */
  allClosed: boolean;
  ignitionOn: boolean;
  /** A booking (driver's or owner's) is running. */
  bookingActive: boolean;
}

const STATE_BITS = { locked: 0x01, allClosed: 0x02, ignitionOn: 0x04, bookingActive: 0x08 };
const STATE_RESERVED_BITS = 0xf0;

export function encodeAdvertisedState(state: AdvertisedState): number {
  let byte = 0;
  for (const [name, bit] of Object.entries(STATE_BITS)) {
    if (state[name as keyof AdvertisedState]) byte |= bit;
  }
  return byte;
}

/** Undefined when reserved bits are set (after unmasking: the wrong car or a newer layout). */
export function decodeAdvertisedState(byte: number): AdvertisedState | undefined {
  if ((byte & STATE_RESERVED_BITS) !== 0) return undefined;
  return {
    locked: (byte & STATE_BITS.locked) !== 0,
    allClosed: (byte & STATE_BITS.allClosed) !== 0,
    ignitionOn: (byte & STATE_BITS.ignitionOn) !== 0,
    bookingActive: (byte & STATE_BITS.bookingActive) !== 0,
  };
}

/** The service data carried with the key service UUID. */
export interface AdvertisementPayload {
  identifier: Uint8Array;
  /** encodeAdvertisedState(state) XOR the window's state mask. */
  maskedState: number;
}

/** The 10 bytes of service data: version | identifier (8) | masked state. */
export function encodeAdvertisementServiceData(payload: AdvertisementPayload): Uint8Array {
  if (payload.identifier.length !== ROTATING_IDENTIFIER_LENGTH) {
    throw new RangeError(`a rotating identifier is ${ROTATING_IDENTIFIER_LENGTH} bytes`);
  }
  const out = new Uint8Array(ADVERTISEMENT_SERVICE_DATA_SIZE);
  out[0] = ADVERTISEMENT_LAYOUT_VERSION;
  out.set(payload.identifier, 1);
  out[1 + ROTATING_IDENTIFIER_LENGTH] = payload.maskedState & 0xff;
  return out;
}

/**
 * The whole legacy advertising data (31 bytes): Flags AD, then the Service Data - 128-bit UUID AD
 * with the key service UUID and the service data. No name: a fixed name would make the car
 * trackable.
 */
export function encodeAdvertisement(payload: AdvertisementPayload): Uint8Array {
  const serviceData = encodeAdvertisementServiceData(payload);
  const out = new Uint8Array(ADVERTISEMENT_SIZE);
  out.set([2, AD_TYPE_FLAGS, FLAGS_VALUE], 0);
  out.set([1 + SERVICE_UUID_AIR.length + serviceData.length, AD_TYPE_SERVICE_DATA_128], 3);
  out.set(SERVICE_UUID_AIR, 5);
  out.set(serviceData, 5 + SERVICE_UUID_AIR.length);
  return out;
}

/** The module's advertisement at `timeMs` for its secret and the car's state. */
export function buildAdvertisement(
  secret: Uint8Array,
  timeMs: number,
  state: AdvertisedState,
): Uint8Array {
  const tag = windowTag(secret, windowIndexAt(timeMs));
  return encodeAdvertisement({
    identifier: tag.identifier,
    maskedState: encodeAdvertisedState(state) ^ tag.stateMask,
  });
}

/**
 * Reads the service data of the key service (as a BLE stack hands it over, e.g. noble's
 * `serviceData` entry). Undefined for another layout version or too few bytes; extra bytes (a
 * later minor) are ignored. Never throws.
 */
export function decodeAdvertisementServiceData(data: Uint8Array): AdvertisementPayload | undefined {
  if (data.length < ADVERTISEMENT_SERVICE_DATA_SIZE || data[0] !== ADVERTISEMENT_LAYOUT_VERSION) {
    return undefined;
  }
  return {
    identifier: data.slice(1, 1 + ROTATING_IDENTIFIER_LENGTH),
    maskedState: data[1 + ROTATING_IDENTIFIER_LENGTH] as number,
  };
}

/**
 * Finds the key service's data in raw advertising data (advertisement, scan response, or both
 * concatenated) and decodes it. Undefined when absent or malformed. Never throws.
 */
export function decodeAdvertisement(advertisingData: Uint8Array): AdvertisementPayload | undefined {
  let offset = 0;
  while (offset < advertisingData.length) {
    const length = advertisingData[offset] as number;
    if (length === 0) return undefined; // the rest is padding
    const end = offset + 1 + length;
    if (end > advertisingData.length) return undefined;
    if (
      advertisingData[offset + 1] === AD_TYPE_SERVICE_DATA_128 &&
      length >= 1 + SERVICE_UUID_AIR.length &&
      SERVICE_UUID_AIR.every((byte, i) => advertisingData[offset + 2 + i] === byte)
    ) {
      return decodeAdvertisementServiceData(
        advertisingData.subarray(offset + 2 + SERVICE_UUID_AIR.length, end),
      );
    }
    offset = end;
  }
  return undefined;
}
