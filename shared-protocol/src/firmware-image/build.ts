/** Building and signing a firmware image (release tooling, tests and the simulated workshop). */
import { concatBytes } from '../crypto/bytes.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { signingInput } from '../trust/signed.js';
import type { FirmwareVersion } from './layout.js';
import { FIRMWARE_HEADER_LENGTH, encodeFirmwareHeader } from './layout.js';

/** The signing domain: a firmware signature can never be replayed as any other signed object. */
export const FIRMWARE_IMAGE_SIGNING_DOMAIN = 'firmware-image';

/**
 * The exact bytes the release signature covers: "mini-sharing/firmware-image/v1", one 0x00 byte,
 * then the 128 header bytes. The header carries the payload's SHA-256, so the payload is covered
 * through its hash; this lets a boot loader check the header and then stream the payload.
 */
export function firmwareImageSigningInput(headerBytes: Uint8Array): Uint8Array {
  return signingInput(
    FIRMWARE_IMAGE_SIGNING_DOMAIN,
    headerBytes.subarray(0, FIRMWARE_HEADER_LENGTH),
  );
}

export interface FirmwareImageInput {
  /** Hardware revision ids the image runs on (1 to 8, each 1-8 printable ASCII chars). */
  readonly hardwareRevisions: readonly string[];
  readonly version: FirmwareVersion;
  /** Anti-rollback counter (u32); raise it when a release fixes a security problem. */
  readonly securityCounter: number;
  /** The firmware itself. */
  readonly payload: Uint8Array;
}

/**
 * Build a signed image: header || payload || Ed25519 signature. Throws RangeError on input the
 * format cannot carry (see encodeFirmwareHeader), so a broken release input stops the build.
 */
export async function buildFirmwareImage(
  input: FirmwareImageInput,
  signer: Signer,
): Promise<Uint8Array> {
  const header = encodeFirmwareHeader({
    hardwareRevisions: input.hardwareRevisions,
    version: input.version,
    securityCounter: input.securityCounter,
    payloadLength: input.payload.length,
    payloadSha256: sha256(input.payload),
    signingKeyId: signer.keyId,
  });
  const signature = await signer.sign(firmwareImageSigningInput(header));
  return concatBytes(header, input.payload, signature);
}
