/**
 * The bytes of one record file. A header carries the value's length and a SHA-256 over the
 * header, the record's name and the value, so a torn write, a bit flip or a file copied under
 * another name is detected on read instead of being returned as valid.
 *
 *   offset 0   "MSRC"              magic
 *   offset 4   u8  1               format version
 *   offset 5   u8[3] 0             reserved
 *   offset 8   u32 LE              value length
 *   offset 12  u8[32]              SHA-256(bytes 0..11 || utf8(name) || value)
 *   offset 44  value
 */
import { bytesEqual, concatBytes, sha256, utf8 } from '@mini-sharing/shared-protocol/crypto';
import { StorageError } from './errors.js';

const MAGIC = utf8('MSRC');
const FORMAT_VERSION = 1;
export const RECORD_HEADER_LENGTH = 44;
/** Records hold small state (keys, certificates, counters, lists); images go to slots. */
export const MAX_RECORD_LENGTH = 1024 * 1024;

const NAME_PATTERN = /^[a-z0-9-]{1,64}$/;

/** Throws 'invalid-name' unless the name is [a-z0-9-]{1,64}: no separators, dots or traversal. */
export function checkRecordName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new StorageError(
      'invalid-name',
      `record name ${JSON.stringify(name)} is not 1 to 64 of a-z, 0-9 and "-"`,
    );
  }
}

function digestOf(prefix: Uint8Array, name: string, value: Uint8Array): Uint8Array {
  return sha256(concatBytes(prefix, utf8(name), value));
}

export function encodeRecord(name: string, value: Uint8Array): Uint8Array {
  if (value.length > MAX_RECORD_LENGTH) {
    throw new StorageError(
      'record-too-large',
      `record ${name} is ${value.length} bytes; records hold at most ${MAX_RECORD_LENGTH}`,
    );
  }
  const bytes = new Uint8Array(RECORD_HEADER_LENGTH + value.length);
  bytes.set(MAGIC, 0);
  bytes[4] = FORMAT_VERSION;
  new DataView(bytes.buffer).setUint32(8, value.length, true);
  bytes.set(digestOf(bytes.subarray(0, 12), name, value), 12);
  bytes.set(value, RECORD_HEADER_LENGTH);
  return bytes;
}

export type RecordDecode =
  | { readonly ok: true; readonly value: Uint8Array }
  | { readonly ok: false; readonly problem: string };

/** Never throws: a damaged file is a result to report, not a crash. */
export function decodeRecord(name: string, bytes: Uint8Array): RecordDecode {
  const fail = (problem: string): RecordDecode => ({ ok: false, problem });
  if (bytes.length < RECORD_HEADER_LENGTH) {
    return fail(`${bytes.length} bytes, shorter than the ${RECORD_HEADER_LENGTH}-byte header`);
  }
  if (!bytesEqual(bytes.subarray(0, 4), MAGIC)) return fail('no record magic');
  if (bytes[4] !== FORMAT_VERSION) return fail(`unknown record format ${bytes[4]}`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, 12).getUint32(8, true);
  if (bytes.length !== RECORD_HEADER_LENGTH + length) {
    return fail(`header announces ${length} value bytes, file holds ${bytes.length - 44}`);
  }
  const value = bytes.slice(RECORD_HEADER_LENGTH);
  if (!bytesEqual(digestOf(bytes.subarray(0, 12), name, value), bytes.subarray(12, 44))) {
    return fail('checksum mismatch');
  }
  return { ok: true, value };
}
