/**
 * The key link's custom GATT service (PROTOCOL.md "The key link (BLE)"). The UUIDs are fixed
 * random 128-bit values from one random base (only the low 16 bits of the first group differ), so
 * they never collide with Bluetooth SIG assigned numbers and are easy to spot in a sniffer trace.
 */

/** The one primary service the module exposes for keys; also carried in the advertisement. */
export const KEY_SERVICE_UUID = '136d0001-fa2e-49ab-8a87-8877b44f2773';
/** Central → module: write (with or without response) of message chunks. */
export const KEY_WRITE_CHARACTERISTIC_UUID = '136d0002-fa2e-49ab-8a87-8877b44f2773';
/** Module → central: notifications of message chunks (the central enables them via the CCCD). */
export const KEY_NOTIFY_CHARACTERISTIC_UUID = '136d0003-fa2e-49ab-8a87-8877b44f2773';
/** Read-only: key link protocol version and maximum message size (`encodeKeyLinkVersion`). */
export const KEY_VERSION_CHARACTERISTIC_UUID = '136d0004-fa2e-49ab-8a87-8877b44f2773';

/** Version of the key link protocol this code speaks. Majors must match to talk. */
export const KEY_LINK_PROTOCOL_VERSION = { major: 1, minor: 0 } as const;

/** The form noble and bleno use: lowercase hex without dashes. */
export const compactUuid = (uuid: string): string => uuid.replaceAll('-', '').toLowerCase();

/** The 16 bytes of a 128-bit UUID as they appear on air: little-endian (reversed). */
export function uuidToAirBytes(uuid: string): Uint8Array {
  const hex = compactUuid(uuid);
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new TypeError(`not a 128-bit UUID: ${uuid}`);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[15 - i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export interface KeyLinkVersion {
  major: number;
  minor: number;
  /** Largest message (without its length prefix) the module accepts and sends. */
  maxMessageSize: number;
}

/** Value of the version characteristic: major u8 | minor u8 | maxMessageSize u16 LE (4 bytes). */
export function encodeKeyLinkVersion(version: KeyLinkVersion): Uint8Array {
  const { major, minor, maxMessageSize } = version;
  if (![major, minor].every((n) => Number.isInteger(n) && n >= 0 && n <= 0xff)) {
    throw new RangeError('protocol major and minor are 0..255');
  }
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1 || maxMessageSize > 0xffff) {
    throw new RangeError('maxMessageSize is 1..65535');
  }
  return new Uint8Array([major, minor, maxMessageSize & 0xff, maxMessageSize >> 8]);
}

/** Reads the version characteristic; undefined when it is not 4+ bytes. Never throws. Later minors
 * may append bytes, which are ignored. */
export function decodeKeyLinkVersion(value: Uint8Array): KeyLinkVersion | undefined {
  if (value.length < 4) return undefined;
  const [major, minor, low, high] = value as unknown as [number, number, number, number];
  const maxMessageSize = low | (high << 8);
  return maxMessageSize === 0 ? undefined : { major, minor, maxMessageSize };
}
