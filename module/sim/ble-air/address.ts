/** A device address as hosts print it ("c0:de:00:00:00:01"), and its 6 bytes little-endian. */
export interface DeviceAddress {
  text: string;
  bytes: Uint8Array;
  /** 0 public, 1 random (as in HCI address type fields). */
  type: number;
}

const ADDRESS_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function parseAddress(text: string, type = 0): DeviceAddress {
  if (!ADDRESS_TEXT.test(text)) {
    throw new Error(`device address ${text} must look like c0:de:00:00:00:01`);
  }
  const bytes = Uint8Array.from(text.split(':').reverse(), (part) => Number.parseInt(part, 16));
  return { text: text.toLowerCase(), bytes, type };
}

export function addressFromBytes(bytes: Uint8Array, type: number): DeviceAddress {
  const text = Array.from(bytes)
    .reverse()
    .map((byte) => byte.toString(16).padStart(2, '0'))
    .join(':');
  return { text, bytes: Uint8Array.from(bytes), type };
}

export function sameAddress(a: DeviceAddress, b: DeviceAddress): boolean {
  return a.type === b.type && a.text === b.text;
}

/**
 * Default public address of controller `index`. The C0:DE prefix makes them easy to spot in a
 * trace; they are stable, so a host restarting on the same port finds the same address.
 */
export function defaultAddress(index: number): string {
  const low = index + 1;
  return `c0:de:00:00:${((low >> 8) & 0xff).toString(16).padStart(2, '0')}:${(low & 0xff)
    .toString(16)
    .padStart(2, '0')}`;
}
