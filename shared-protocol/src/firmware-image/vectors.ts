/**
 * Test vectors for firmware images (shared-protocol/vectors/firmware-image.json), built here from
 * fixed TEST-ONLY seeds so they are reproducible byte for byte; vectors.test.ts checks that the
 * committed file equals what this builds. A C boot loader team runs the same cases.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex, utf8 } from '../crypto/bytes.js';
import type { Signer } from '../crypto/ed25519.js';
import { seedSigner } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import type { FirmwareImageInput } from './build.js';
import { buildFirmwareImage, firmwareImageSigningInput } from './build.js';
import type { FirmwareHeader } from './layout.js';
import {
  FIRMWARE_HEADER_LENGTH,
  FIRMWARE_HEADER_OFFSETS as O,
  parseFirmwareHeader,
} from './layout.js';
import type { FirmwareImageRejectionReason } from './verdict.js';

/** TEST-ONLY seeds: public in this repository, never pinned in any build. */
export const TEST_RELEASE_KEY_SEED = sha256(utf8('mini-sharing/TEST-ONLY/release-key/1'));
export const TEST_UNTRUSTED_KEY_SEED = sha256(utf8('mini-sharing/TEST-ONLY/untrusted-key/1'));

/** What the vectors' verifier is configured with. */
export const VECTOR_HARDWARE_REVISION = 'HW-C';
export const VECTOR_MIN_SECURITY_COUNTER = 5;

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

export interface FirmwareImageVectors {
  readonly description: string;
  readonly rules: readonly string[];
  readonly layout: ReadonlyArray<{ offset: number; size: number; field: string; type: string }>;
  readonly keys: Record<'testReleaseKey' | 'testUntrustedKey', KeyVector>;
  readonly verifier: {
    readonly trustedPublicKeysHex: readonly string[];
    readonly hardwareRevision: string;
    readonly minSecurityCounter: number;
  };
  readonly valid: readonly ValidVector[];
  readonly invalid: readonly InvalidVector[];
}

interface KeyVector {
  readonly note: string;
  readonly seedHex: string;
  readonly publicKeyHex: string;
  readonly keyIdHex: string;
}

interface ValidVector {
  readonly name: string;
  readonly imageHex: string;
  readonly header: Record<string, unknown>;
  readonly signingInputHex: string;
  readonly signatureHex: string;
}

interface InvalidVector {
  readonly name: string;
  readonly description: string;
  readonly imageHex: string;
  readonly reason: FirmwareImageRejectionReason;
}

const RULES = [
  'image = header (128 bytes) || payload (payload_length bytes) || signature (64 bytes); all integers little-endian.',
  'The header must start with "MSFW", format_version must be 1 and header_length 128; the reserved byte is 0.',
  'hardware_revision_count is 1..8; each used 8-byte slot holds 1..8 printable ASCII bytes (0x21-0x7E), then NUL bytes to the end of the slot; no id is listed twice; unused slots are all zero.',
  'signature = Ed25519 (RFC 8032, pure) by the release key over: ASCII "mini-sharing/firmware-image/v1", one 0x00 byte, then the 128 header bytes. The header holds the payload SHA-256, so the payload is signed through its hash; the hash is not appended again.',
  'Verification is strict RFC 8032: S < L; the public key A and R are canonical encodings (y < p) and not of small order; the equation is cofactorless [S]B = R + [k]A with k = SHA-512(R || A || message) mod L.',
  'The key is chosen by signing_key_id = first 8 bytes of SHA-256(public key), among the trusted keys only.',
  'Checks run in this order and the first failure is the verdict: bad-magic, unsupported-format-version, malformed-header, unknown-key, incompatible-hardware (the module revision must equal one listed id, case-sensitive), downgrade (security_counter < the minimum), truncated, trailing-data, hash-mismatch (SHA-256 of the payload), bad-signature. An image that ends before a check has its bytes is truncated.',
];

const LAYOUT: Array<{ field: keyof typeof O; size: number; type: string }> = [
  { field: 'magic', size: 4, type: 'ASCII "MSFW"' },
  { field: 'formatVersion', size: 2, type: 'u16 = 1' },
  { field: 'headerLength', size: 2, type: 'u16 = 128' },
  { field: 'securityCounter', size: 4, type: 'u32' },
  { field: 'payloadLength', size: 4, type: 'u32' },
  { field: 'versionMajor', size: 2, type: 'u16' },
  { field: 'versionMinor', size: 2, type: 'u16' },
  { field: 'versionPatch', size: 2, type: 'u16' },
  { field: 'hardwareRevisionCount', size: 1, type: 'u8, 1..8' },
  { field: 'reserved', size: 1, type: 'u8 = 0' },
  { field: 'hardwareRevisions', size: 64, type: '8 slots of 8 bytes, ASCII, NUL-padded' },
  { field: 'signingKeyId', size: 8, type: 'first 8 bytes of SHA-256(public key)' },
  { field: 'payloadSha256', size: 32, type: 'SHA-256 of the payload' },
];

function keyVector(seed: Uint8Array, note: string): KeyVector {
  const signer = seedSigner(seed);
  return {
    note,
    seedHex: toHex(seed),
    publicKeyHex: toHex(signer.publicKey),
    keyIdHex: toHex(signer.keyId),
  };
}

const headerJson = (header: FirmwareHeader): Record<string, unknown> => ({
  formatVersion: header.formatVersion,
  headerLength: header.headerLength,
  hardwareRevisions: header.hardwareRevisions,
  version: header.version,
  securityCounter: header.securityCounter,
  payloadLength: header.payloadLength,
  payloadSha256Hex: toHex(header.payloadSha256),
  signingKeyIdHex: toHex(header.signingKeyId),
});

/** A copy of `image` with its header changed, re-signed by `signer` when given. */
async function withHeader(
  image: Uint8Array,
  change: (header: Uint8Array, view: DataView) => void,
  signer?: Signer,
): Promise<Uint8Array> {
  const out = image.slice();
  const header = out.subarray(0, FIRMWARE_HEADER_LENGTH);
  change(header, new DataView(out.buffer, 0, FIRMWARE_HEADER_LENGTH));
  if (signer) out.set(await signer.sign(firmwareImageSigningInput(header)), out.length - 64);
  return out;
}

function withSignature(image: Uint8Array, signature: Uint8Array): Uint8Array {
  const out = image.slice();
  out.set(signature, out.length - 64);
  return out;
}

const flip = (image: Uint8Array, at: number): Uint8Array => {
  const out = image.slice();
  out[at] = (out[at] as number) ^ 0x01;
  return out;
};

const littleEndian32 = (value: bigint): Uint8Array =>
  Uint8Array.from({ length: 32 }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));
const fromLittleEndian = (bytes: Uint8Array): bigint =>
  bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n);

/**
 * A signature with R = the identity point that satisfies the cofactorless equation: lax
 * verifiers accept it, strict ones must refuse it because R has small order.
 */
function identityRSignature(seed: Uint8Array, message: Uint8Array): Uint8Array {
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
  const r = littleEndian32(1n); // encoding of the identity (0, 1)
  const k = fromLittleEndian(sha512(concatBytes(r, pointBytes, message))) % L;
  return concatBytes(r, littleEndian32((k * scalar) % L));
}

/** Build every vector. Deterministic: Ed25519 signatures and the seeds are fixed. */
export async function buildFirmwareImageVectors(): Promise<FirmwareImageVectors> {
  const release = seedSigner(TEST_RELEASE_KEY_SEED);
  const untrusted = seedSigner(TEST_UNTRUSTED_KEY_SEED);
  const base: FirmwareImageInput = {
    hardwareRevisions: ['HW-B', 'HW-C'],
    version: { major: 1, minor: 4, patch: 2 },
    securityCounter: VECTOR_MIN_SECURITY_COUNTER,
    payload: utf8('TEST-ONLY firmware payload for the image vectors.\n'),
  };
  const image = await buildFirmwareImage(base, release);
  const payloadEnd = image.length - 64;
  const signature = image.subarray(payloadEnd);

  const valids: Array<[string, Uint8Array]> = [
    ['small image, security counter equal to the minimum', image],
    [
      'id filling its whole 8-byte slot (no NUL), largest counter and major version',
      await buildFirmwareImage(
        {
          hardwareRevisions: ['HW-C-EU1', 'HW-C'],
          version: { major: 65535, minor: 0, patch: 1 },
          securityCounter: 0xffffffff,
          payload: Uint8Array.of(0x00),
        },
        release,
      ),
    ],
    ['empty payload', await buildFirmwareImage({ ...base, payload: new Uint8Array(0) }, release)],
  ];

  const sOf = fromLittleEndian(signature.subarray(32));
  const cases: Array<[string, string, Uint8Array, FirmwareImageRejectionReason]> = [
    ['empty', 'no bytes at all', new Uint8Array(0), 'truncated'],
    ['magic-only', 'the four magic bytes only', image.slice(0, 4), 'truncated'],
    ['bad-magic', 'first byte changed from "M" to "N"', flip(image, 0), 'bad-magic'],
    ['zip-file', 'a ZIP archive, not an image', utf8('PK\x03\x04 not an image'), 'bad-magic'],
    [
      'format-version-2',
      'format_version 2, re-signed by the release key',
      await withHeader(image, (_, v) => v.setUint16(O.formatVersion, 2, true), release),
      'unsupported-format-version',
    ],
    [
      'header-length-129',
      'header_length 129, re-signed',
      await withHeader(image, (_, v) => v.setUint16(O.headerLength, 129, true), release),
      'malformed-header',
    ],
    [
      'reserved-byte-set',
      'reserved byte 0x01, re-signed',
      await withHeader(image, (h) => (h[O.reserved] = 1), release),
      'malformed-header',
    ],
    [
      'no-hardware-revisions',
      'hardware_revision_count 0 (slots left as they were), re-signed',
      await withHeader(image, (h) => (h[O.hardwareRevisionCount] = 0), release),
      'malformed-header',
    ],
    [
      'byte-after-nul-padding',
      'slot 1 holds "HW-B\\0X\\0\\0", re-signed',
      await withHeader(image, (h) => (h[O.hardwareRevisions + 5] = 0x58), release),
      'malformed-header',
    ],
    ['cut-in-header', 'only the first 100 bytes', image.slice(0, 100), 'truncated'],
    [
      'unknown-key',
      'a complete, valid image signed by the untrusted test key',
      await buildFirmwareImage(base, untrusted),
      'unknown-key',
    ],
    [
      'incompatible-hardware',
      'built for HW-A and HW-B',
      await buildFirmwareImage({ ...base, hardwareRevisions: ['HW-A', 'HW-B'] }, release),
      'incompatible-hardware',
    ],
    [
      'hardware-id-case',
      'built for "hw-c": ids compare case-sensitively',
      await buildFirmwareImage({ ...base, hardwareRevisions: ['hw-c'] }, release),
      'incompatible-hardware',
    ],
    [
      'downgrade',
      'security counter 4, one below the minimum',
      await buildFirmwareImage({ ...base, securityCounter: 4 }, release),
      'downgrade',
    ],
    [
      'order-unknown-key-before-hardware',
      'untrusted key and built for HW-A: the key is checked first',
      await buildFirmwareImage({ ...base, hardwareRevisions: ['HW-A'] }, untrusted),
      'unknown-key',
    ],
    [
      'order-hardware-before-downgrade',
      'built for HW-A with security counter 4: hardware is checked first',
      await buildFirmwareImage(
        { ...base, hardwareRevisions: ['HW-A'], securityCounter: 4 },
        release,
      ),
      'incompatible-hardware',
    ],
    [
      'order-downgrade-before-truncated',
      'security counter 4, cut after the header',
      (await buildFirmwareImage({ ...base, securityCounter: 4 }, release)).slice(0, 130),
      'downgrade',
    ],
    ['cut-in-payload', 'cut 10 bytes into the payload', image.slice(0, 138), 'truncated'],
    ['cut-in-signature', 'last byte of the signature missing', image.slice(0, -1), 'truncated'],
    [
      'trailing-byte',
      'one 0x00 byte after the signature',
      concatBytes(image, Uint8Array.of(0)),
      'trailing-data',
    ],
    [
      'payload-bit-flip',
      'lowest bit of the first payload byte flipped',
      flip(image, 128),
      'hash-mismatch',
    ],
    [
      'order-trailing-data-before-hash',
      'payload bit flipped and one byte appended',
      concatBytes(flip(image, 128), Uint8Array.of(0)),
      'trailing-data',
    ],
    [
      'signature-bit-flip',
      'lowest bit of the last signature byte flipped',
      flip(image, image.length - 1),
      'bad-signature',
    ],
    [
      'header-changed-after-signing',
      'patch version raised from 2 to 3 without re-signing',
      await withHeader(image, (_, v) => v.setUint16(O.versionPatch, 3, true)),
      'bad-signature',
    ],
    [
      'order-hash-before-signature',
      'payload bit flipped and signature bit flipped',
      flip(flip(image, 128), image.length - 1),
      'hash-mismatch',
    ],
    [
      'wrong-key-naming-release-key',
      'names the release key id but is signed by the untrusted test key',
      withSignature(image, await untrusted.sign(firmwareImageSigningInput(image))),
      'bad-signature',
    ],
    [
      's-not-reduced',
      'S replaced by S + L: a verifier that reduces S mod L would accept it',
      withSignature(image, concatBytes(signature.subarray(0, 32), littleEndian32(sOf + L))),
      'bad-signature',
    ],
    [
      'r-small-order',
      'R is the identity point, S chosen so the cofactorless equation holds: only the small-order rule refuses it',
      withSignature(
        image,
        identityRSignature(TEST_RELEASE_KEY_SEED, firmwareImageSigningInput(image)),
      ),
      'bad-signature',
    ],
    [
      'all-zero-signature',
      'signature of 64 zero bytes',
      withSignature(image, new Uint8Array(64)),
      'bad-signature',
    ],
  ];

  return {
    description:
      'MINI Sharing firmware image format 1: TEST vectors. The keys are TEST-ONLY keys whose seeds are published here; no build may pin them.',
    rules: RULES,
    // snake_case field names, as a C struct would spell them
    layout: LAYOUT.map(({ field, size, type }) => ({
      offset: O[field],
      size,
      field: field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`),
      type,
    })),
    keys: {
      testReleaseKey: keyVector(TEST_RELEASE_KEY_SEED, 'TEST-ONLY release key: signs the vectors'),
      testUntrustedKey: keyVector(
        TEST_UNTRUSTED_KEY_SEED,
        'TEST-ONLY key the verifier does not trust',
      ),
    },
    verifier: {
      trustedPublicKeysHex: [toHex(release.publicKey)],
      hardwareRevision: VECTOR_HARDWARE_REVISION,
      minSecurityCounter: VECTOR_MIN_SECURITY_COUNTER,
    },
    valid: valids.map(([name, bytes]) => {
      const parsed = parseFirmwareHeader(bytes);
      if (!parsed.ok) throw new Error(`vector ${name}: ${parsed.message}`);
      return {
        name,
        imageHex: toHex(bytes),
        header: headerJson(parsed.header),
        signingInputHex: toHex(firmwareImageSigningInput(bytes)),
        signatureHex: toHex(bytes.subarray(bytes.length - 64)),
      };
    }),
    invalid: cases.map(([name, description, bytes, reason]) => ({
      name,
      description,
      imageHex: toHex(bytes),
      reason,
    })),
  };
}
