/**
 * Firmware image format 1: the byte layout of the header and its strict parser (PROTOCOL.md
 * "Firmware images"). A fixed little-endian layout, not protobuf, because the C boot loader
 * parses it before anything else runs; every field sits at a naturally aligned offset so the
 * header maps onto a packed C struct without unaligned reads.
 *
 *   image = header (128 bytes) || payload (payload_length bytes) || signature (64 bytes)
 */
import { KEY_ID_LENGTH } from '../crypto/hash.js';
import type { FirmwareHeaderRejection } from './verdict.js';
import { rejection } from './verdict.js';

/** ASCII "MSFW". */
export const FIRMWARE_IMAGE_MAGIC: Uint8Array = Uint8Array.of(0x4d, 0x53, 0x46, 0x57);
export const FIRMWARE_IMAGE_FORMAT_VERSION = 1;
export const FIRMWARE_HEADER_LENGTH = 128;
export const FIRMWARE_SIGNATURE_LENGTH = 64;
export const PAYLOAD_SHA256_LENGTH = 32;
export const MAX_HARDWARE_REVISIONS = 8;
/** Each hardware revision id sits in a slot of this many bytes, NUL-padded. */
export const HARDWARE_REVISION_SLOT_LENGTH = 8;

/** Byte offsets of the header fields (all integers little-endian). */
export const FIRMWARE_HEADER_OFFSETS = {
  magic: 0, // u8[4]  "MSFW"
  formatVersion: 4, // u16  1
  headerLength: 6, // u16  128
  securityCounter: 8, // u32
  payloadLength: 12, // u32
  versionMajor: 16, // u16
  versionMinor: 18, // u16
  versionPatch: 20, // u16
  hardwareRevisionCount: 22, // u8   1..8
  reserved: 23, // u8   0
  hardwareRevisions: 24, // char[8][8], NUL-padded, unused slots all zero
  signingKeyId: 88, // u8[8]
  payloadSha256: 96, // u8[32]
} as const;

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** A parsed header. Nothing in it is trusted until the image's signature has been verified. */
export interface FirmwareHeader {
  readonly formatVersion: number;
  readonly headerLength: number;
  /** Hardware revision ids the image runs on, e.g. ["HW-B", "HW-C"]. */
  readonly hardwareRevisions: readonly string[];
  readonly version: FirmwareVersion;
  /** Anti-rollback counter: a module refuses images below the counter it has recorded. */
  readonly securityCounter: number;
  readonly payloadLength: number;
  readonly payloadSha256: Uint8Array;
  /** Key id (first 8 bytes of the SHA-256 of the public key) of the release key that signed. */
  readonly signingKeyId: Uint8Array;
}

/** What a release chooses; format version and header length follow from the format. */
export type FirmwareHeaderFields = Omit<FirmwareHeader, 'formatVersion' | 'headerLength'>;

export type FirmwareHeaderParse =
  { readonly ok: true; readonly header: FirmwareHeader } | FirmwareHeaderRejection;

export const formatFirmwareVersion = (version: FirmwareVersion): string =>
  `${version.major}.${version.minor}.${version.patch}`;

/** Total image length a header announces: header, payload and signature. */
export const firmwareImageLength = (header: FirmwareHeader): number =>
  header.headerLength + header.payloadLength + FIRMWARE_SIGNATURE_LENGTH;

/** A hardware revision id: 1 to 8 printable ASCII characters, no spaces (e.g. "HW-C"). */
export const isHardwareRevisionId = (id: string): boolean => /^[\x21-\x7e]{1,8}$/.test(id);

const isUint = (value: number, max: number): boolean =>
  Number.isInteger(value) && value >= 0 && value <= max;

/**
 * Encode a header. Throws RangeError on values the format cannot carry: only release tooling
 * calls this, and a bad release input must stop the build, not produce an odd image.
 */
export function encodeFirmwareHeader(header: FirmwareHeaderFields): Uint8Array {
  const { hardwareRevisions: ids, version } = header;
  if (ids.length < 1 || ids.length > MAX_HARDWARE_REVISIONS) {
    throw new RangeError(`an image names 1 to ${MAX_HARDWARE_REVISIONS} hardware revisions`);
  }
  for (const id of ids) {
    if (!isHardwareRevisionId(id)) {
      throw new RangeError(`hardware revision id ${JSON.stringify(id)} is not 1-8 ASCII chars`);
    }
  }
  if (new Set(ids).size !== ids.length) throw new RangeError('hardware revisions repeat');
  if (![version.major, version.minor, version.patch].every((part) => isUint(part, 0xffff))) {
    throw new RangeError(`version ${formatFirmwareVersion(version)}: each part must be a u16`);
  }
  if (!isUint(header.securityCounter, 0xffffffff)) {
    throw new RangeError('security counter is not a u32');
  }
  if (!isUint(header.payloadLength, 0xffffffff)) throw new RangeError('payload is over 4 GiB');
  if (header.payloadSha256.length !== PAYLOAD_SHA256_LENGTH) {
    throw new RangeError('payload SHA-256 is not 32 bytes');
  }
  if (header.signingKeyId.length !== KEY_ID_LENGTH) throw new RangeError('key id is not 8 bytes');

  const O = FIRMWARE_HEADER_OFFSETS;
  const bytes = new Uint8Array(FIRMWARE_HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes.set(FIRMWARE_IMAGE_MAGIC, O.magic);
  view.setUint16(O.formatVersion, FIRMWARE_IMAGE_FORMAT_VERSION, true);
  view.setUint16(O.headerLength, FIRMWARE_HEADER_LENGTH, true);
  view.setUint32(O.securityCounter, header.securityCounter, true);
  view.setUint32(O.payloadLength, header.payloadLength, true);
  view.setUint16(O.versionMajor, version.major, true);
  view.setUint16(O.versionMinor, version.minor, true);
  view.setUint16(O.versionPatch, version.patch, true);
  view.setUint8(O.hardwareRevisionCount, ids.length);
  ids.forEach((id, slot) => {
    const at = O.hardwareRevisions + slot * HARDWARE_REVISION_SLOT_LENGTH;
    for (let i = 0; i < id.length; i++) bytes[at + i] = id.charCodeAt(i);
  });
  bytes.set(header.signingKeyId, O.signingKeyId);
  bytes.set(header.payloadSha256, O.payloadSha256);
  return bytes;
}

/**
 * Check the first bytes of an image before the whole header is in, so a stream that is not an
 * image (or is in a format this code does not read) is refused at once. Undefined when the bytes
 * so far are fine.
 */
export function headerPrefixProblem(prefix: Uint8Array): FirmwareHeaderRejection | undefined {
  const magicBytes = Math.min(prefix.length, FIRMWARE_IMAGE_MAGIC.length);
  for (let i = 0; i < magicBytes; i++) {
    if (prefix[i] !== FIRMWARE_IMAGE_MAGIC[i]) {
      return rejection(
        'bad-magic',
        // No byte dump in the words: they must not depend on how the stream was split.
        `This file is not a MINI Sharing firmware image (it does not start with "MSFW"). ` +
          `Check that you picked the firmware image file and not another download.`,
      );
    }
  }
  const O = FIRMWARE_HEADER_OFFSETS;
  if (prefix.length >= O.formatVersion + 2) {
    const formatVersion =
      (prefix[O.formatVersion] as number) | ((prefix[O.formatVersion + 1] as number) << 8);
    if (formatVersion !== FIRMWARE_IMAGE_FORMAT_VERSION) {
      return rejection(
        'unsupported-format-version',
        `This image is in firmware image format ${formatVersion}; this software reads format ` +
          `${FIRMWARE_IMAGE_FORMAT_VERSION} only. Update the workshop app (and the module's boot ` +
          `loader) before installing it, or use an image made for this software.`,
      );
    }
  }
  return undefined;
}

const damaged = (what: string): FirmwareHeaderRejection =>
  rejection(
    'malformed-header',
    `The image header is damaged (${what}). Download the firmware image again; if it happens ` +
      `again, report the image to the firmware team.`,
  );

/** Why a hardware revision slot is not a NUL-padded id, or undefined when it is one. */
function slotProblem(slot: Uint8Array, used: boolean): string | undefined {
  let length = slot.indexOf(0);
  if (length === -1) length = slot.length;
  if (slot.subarray(length).some((byte) => byte !== 0)) return 'bytes after the NUL padding';
  if (!used) return length === 0 ? undefined : 'an unused slot is not empty';
  if (length === 0) return 'an empty id';
  if (slot.subarray(0, length).some((byte) => byte < 0x21 || byte > 0x7e)) {
    return 'characters other than printable ASCII';
  }
  return undefined;
}

/**
 * Parse the header at the start of `bytes` (further bytes are ignored). Strict: a header has
 * exactly one encoding (encodeFirmwareHeader gives back the same bytes), so no signed byte is
 * ignored or read two ways. Never throws.
 */
export function parseFirmwareHeader(bytes: Uint8Array): FirmwareHeaderParse {
  const prefixProblem = headerPrefixProblem(bytes.subarray(0, FIRMWARE_HEADER_LENGTH));
  if (prefixProblem) return prefixProblem;
  if (bytes.length < FIRMWARE_HEADER_LENGTH) {
    return rejection(
      'truncated',
      `The image is incomplete: it ends after ${bytes.length} bytes, inside its ` +
        `${FIRMWARE_HEADER_LENGTH}-byte header. Download or copy the image again.`,
    );
  }
  const O = FIRMWARE_HEADER_OFFSETS;
  const view = new DataView(bytes.buffer, bytes.byteOffset, FIRMWARE_HEADER_LENGTH);
  const headerLength = view.getUint16(O.headerLength, true);
  if (headerLength !== FIRMWARE_HEADER_LENGTH) {
    return damaged(`header length ${headerLength}, expected ${FIRMWARE_HEADER_LENGTH}`);
  }
  if (view.getUint8(O.reserved) !== 0) return damaged('reserved byte is not zero');
  const count = view.getUint8(O.hardwareRevisionCount);
  if (count < 1 || count > MAX_HARDWARE_REVISIONS) {
    return damaged(`${count} hardware revisions, expected 1 to ${MAX_HARDWARE_REVISIONS}`);
  }
  const hardwareRevisions: string[] = [];
  for (let slot = 0; slot < MAX_HARDWARE_REVISIONS; slot++) {
    const at = O.hardwareRevisions + slot * HARDWARE_REVISION_SLOT_LENGTH;
    const slotBytes = bytes.subarray(at, at + HARDWARE_REVISION_SLOT_LENGTH);
    const problem = slotProblem(slotBytes, slot < count);
    if (problem) return damaged(`hardware revision slot ${slot + 1}: ${problem}`);
    if (slot < count) {
      const end = slotBytes.indexOf(0);
      const id = String.fromCharCode(...slotBytes.subarray(0, end === -1 ? 8 : end));
      if (hardwareRevisions.includes(id)) return damaged(`hardware revision ${id} listed twice`);
      hardwareRevisions.push(id);
    }
  }
  return {
    ok: true,
    header: {
      formatVersion: view.getUint16(O.formatVersion, true),
      headerLength,
      hardwareRevisions,
      version: {
        major: view.getUint16(O.versionMajor, true),
        minor: view.getUint16(O.versionMinor, true),
        patch: view.getUint16(O.versionPatch, true),
      },
      securityCounter: view.getUint32(O.securityCounter, true),
      payloadLength: view.getUint32(O.payloadLength, true),
      payloadSha256: bytes.slice(O.payloadSha256, O.payloadSha256 + PAYLOAD_SHA256_LENGTH),
      signingKeyId: bytes.slice(O.signingKeyId, O.signingKeyId + KEY_ID_LENGTH),
    },
  };
}
