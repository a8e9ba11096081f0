/**
 * Verifying a firmware image as it streams in (the module during a flash, the workshop app
 * before one). The payload is hashed chunk by chunk and never held whole, so an image of any size
 * is checked in constant memory.
 *
 * Check order (the first failing check is the verdict, however the bytes were split):
 *   bad-magic -> unsupported-format-version -> malformed-header -> unknown-key ->
 *   incompatible-hardware -> downgrade -> truncated -> trailing-data -> hash-mismatch ->
 *   bad-signature
 * The header checks run as soon as the 128 header bytes are in, so a wrong image is refused
 * before its payload is sent; they read header fields the signature has not yet vouched for,
 * which is safe because they can only refuse. An image is accepted only after the signature.
 */
import { bytesEqual, toHex } from '../crypto/bytes.js';
import { verifyEd25519 } from '../crypto/ed25519.js';
import { createSha256, keyIdOf } from '../crypto/hash.js';
import { firmwareImageSigningInput } from './build.js';
import type { FirmwareHeader } from './layout.js';
import {
  FIRMWARE_HEADER_LENGTH,
  FIRMWARE_SIGNATURE_LENGTH,
  firmwareImageLength,
  formatFirmwareVersion,
  headerPrefixProblem,
  parseFirmwareHeader,
} from './layout.js';
import type { FirmwareImageRejection, FirmwareImageVerdict } from './verdict.js';
import { rejection } from './verdict.js';

export interface FirmwareImageVerifierOptions {
  /** Release public keys this module or app accepts (pinned at build time). */
  readonly trustedKeys: ReadonlyArray<{ readonly publicKey: Uint8Array }>;
  /** The hardware revision of the module the image is for, e.g. "HW-C". */
  readonly hardwareRevision: string;
  /** The module's recorded security counter: images below it are refused (anti-rollback). */
  readonly minSecurityCounter: number;
}

export interface FirmwareImageVerifier {
  /**
   * Feed the next bytes, split anywhere. Returns the rejection as soon as one is certain (a bad
   * header, or bytes past the end), so the caller can stop the transfer; undefined otherwise.
   * Never throws; bytes after a rejection or after finish() are ignored.
   */
  push(chunk: Uint8Array): FirmwareImageRejection | undefined;
  /** The stream has ended: the verdict on the whole image. Never rejects; idempotent. */
  finish(): Promise<FirmwareImageVerdict>;
  /** The parsed (not yet authenticated) header, once its bytes are in and well-formed. */
  readonly header: FirmwareHeader | undefined;
  readonly bytesReceived: number;
}

type Phase = 'header' | 'payload' | 'signature' | 'complete';

interface TrustedKey {
  readonly publicKey: Uint8Array;
  readonly keyId: Uint8Array;
}

const joinRevisions = (ids: readonly string[]): string =>
  ids.length === 1 ? (ids[0] as string) : `${ids.slice(0, -1).join(', ')} or ${ids.at(-1)}`;

/** Checks a well-formed header against what this module accepts; undefined when it passes. */
function headerProblem(
  header: FirmwareHeader,
  trusted: readonly TrustedKey[],
  options: FirmwareImageVerifierOptions,
): FirmwareImageRejection | undefined {
  if (!trusted.some((key) => bytesEqual(key.keyId, header.signingKeyId))) {
    return rejection(
      'unknown-key',
      `This image is signed with key ${toHex(header.signingKeyId)}, which this module does not ` +
        `trust. Use an official release image from the firmware catalog (development images ` +
        `install only on development modules).`,
    );
  }
  if (!header.hardwareRevisions.includes(options.hardwareRevision)) {
    return rejection(
      'incompatible-hardware',
      `This image is for hardware ${joinRevisions(header.hardwareRevisions)}; this module is ` +
        `${options.hardwareRevision}. Choose the firmware image for ${options.hardwareRevision}.`,
    );
  }
  if (header.securityCounter < options.minSecurityCounter) {
    return rejection(
      'downgrade',
      `This image (version ${formatFirmwareVersion(header.version)}) has security counter ` +
        `${header.securityCounter}; this module accepts only ${options.minSecurityCounter} or ` +
        `higher, because older firmware lacks security fixes. Install a newer firmware image.`,
    );
  }
  return undefined;
}

class StreamingFirmwareImageVerifier implements FirmwareImageVerifier {
  header: FirmwareHeader | undefined;
  bytesReceived = 0;
  private phase: Phase = 'header';
  private readonly headerBytes = new Uint8Array(FIRMWARE_HEADER_LENGTH);
  private headerFilled = 0;
  private readonly payloadHash = createSha256();
  private payloadRemaining = 0;
  private readonly signature = new Uint8Array(FIRMWARE_SIGNATURE_LENGTH);
  private signatureFilled = 0;
  private rejected: FirmwareImageRejection | undefined;
  private verdict: Promise<FirmwareImageVerdict> | undefined;
  private readonly trusted: readonly TrustedKey[];

  constructor(private readonly options: FirmwareImageVerifierOptions) {
    this.trusted = options.trustedKeys.map(({ publicKey }) => ({
      publicKey,
      keyId: keyIdOf(publicKey),
    }));
  }

  push(chunk: Uint8Array): FirmwareImageRejection | undefined {
    if (this.rejected || this.verdict) return this.rejected;
    this.bytesReceived += chunk.length;
    let offset = 0;
    while (offset < chunk.length && !this.rejected) {
      const rest = chunk.subarray(offset);
      switch (this.phase) {
        case 'header':
          offset += this.takeHeader(rest);
          break;
        case 'payload': {
          const take = Math.min(rest.length, this.payloadRemaining);
          this.payloadHash.update(rest.subarray(0, take));
          this.payloadRemaining -= take;
          if (this.payloadRemaining === 0) this.phase = 'signature';
          offset += take;
          break;
        }
        case 'signature': {
          const take = Math.min(rest.length, FIRMWARE_SIGNATURE_LENGTH - this.signatureFilled);
          this.signature.set(rest.subarray(0, take), this.signatureFilled);
          this.signatureFilled += take;
          if (this.signatureFilled === FIRMWARE_SIGNATURE_LENGTH) this.phase = 'complete';
          offset += take;
          break;
        }
        case 'complete':
          // Certain at once: no later byte can make the image shorter again.
          this.rejected = this.trailingData();
          break;
      }
    }
    return this.rejected;
  }

  private takeHeader(rest: Uint8Array): number {
    const take = Math.min(rest.length, FIRMWARE_HEADER_LENGTH - this.headerFilled);
    this.headerBytes.set(rest.subarray(0, take), this.headerFilled);
    this.headerFilled += take;
    if (this.headerFilled < FIRMWARE_HEADER_LENGTH) {
      this.rejected = headerPrefixProblem(this.headerBytes.subarray(0, this.headerFilled));
      return take;
    }
    const parsed = parseFirmwareHeader(this.headerBytes);
    if (!parsed.ok) {
      this.rejected = parsed;
      return take;
    }
    this.rejected = headerProblem(parsed.header, this.trusted, this.options);
    this.header = parsed.header;
    this.payloadRemaining = parsed.header.payloadLength;
    this.phase = this.payloadRemaining === 0 ? 'signature' : 'payload';
    return take;
  }

  private trailingData(): FirmwareImageRejection {
    const length = firmwareImageLength(this.header as FirmwareHeader);
    return rejection(
      'trailing-data',
      `The image is longer than the ${length} bytes its header announces: something was ` +
        `appended after its signature. Download the firmware image again.`,
    );
  }

  finish(): Promise<FirmwareImageVerdict> {
    this.verdict ??= this.conclude();
    return this.verdict;
  }

  private async conclude(): Promise<FirmwareImageVerdict> {
    if (this.rejected) return this.rejected;
    const header = this.header;
    // An image cut inside its header gets the header parser's own words for it.
    if (!header) return parseFirmwareHeader(this.headerBytes.subarray(0, this.headerFilled));
    if (this.phase !== 'complete') {
      return rejection(
        'truncated',
        `The image is incomplete: it ends after ${this.bytesReceived} of the ` +
          `${firmwareImageLength(header)} bytes its header announces. Download or copy the ` +
          `image again.`,
      );
    }
    if (!bytesEqual(this.payloadHash.digest(), header.payloadSha256)) {
      return rejection(
        'hash-mismatch',
        `The firmware inside the image is corrupted: its SHA-256 does not match the one in the ` +
          `header. Download the firmware image again.`,
      );
    }
    const signedBytes = firmwareImageSigningInput(this.headerBytes);
    for (const key of this.trusted) {
      if (!bytesEqual(key.keyId, header.signingKeyId)) continue;
      if (await verifyEd25519(key.publicKey, signedBytes, this.signature)) {
        return { ok: true, header };
      }
    }
    return rejection(
      'bad-signature',
      `The image's release signature is not valid: the image was altered after signing or was ` +
        `not signed by the key it names. Do not install it; get the image again from the ` +
        `firmware catalog.`,
    );
  }
}

/** A verifier for one image, fed with push() and concluded with finish(). */
export function createFirmwareImageVerifier(
  options: FirmwareImageVerifierOptions,
): FirmwareImageVerifier {
  return new StreamingFirmwareImageVerifier(options);
}

/** The verdict on a whole image in memory; the same as streaming it in any split. Never throws. */
export function verifyFirmwareImage(
  bytes: Uint8Array,
  options: FirmwareImageVerifierOptions,
): Promise<FirmwareImageVerdict> {
  const verifier = createFirmwareImageVerifier(options);
  verifier.push(bytes);
  return verifier.finish();
}
