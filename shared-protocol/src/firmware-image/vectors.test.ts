import { readFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../crypto/index.js';
import type { FirmwareImageVerifierOptions } from './index.js';
import {
  FIRMWARE_HEADER_LENGTH,
  FIRMWARE_IMAGE_REJECTION_REASONS,
  createFirmwareImageVerifier,
  verifyFirmwareImage,
} from './index.js';
import type { FirmwareImageVectors } from './vectors.js';
import { buildFirmwareImageVectors } from './vectors.js';

// Regenerate with: npm run vectors -w shared-protocol
const file = new URL('../../vectors/firmware-image.json', import.meta.url);
const built = await buildFirmwareImageVectors();

// The committed file is the source of truth for other implementations: read everything from it.
const committed = JSON.parse(await readFile(file, 'utf8')) as FirmwareImageVectors;
const options: FirmwareImageVerifierOptions = {
  trustedKeys: committed.verifier.trustedPublicKeysHex.map((hex) => ({ publicKey: fromHex(hex) })),
  hardwareRevision: committed.verifier.hardwareRevision,
  minSecurityCounter: committed.verifier.minSecurityCounter,
};

describe('firmware image vectors (shared-protocol/vectors/firmware-image.json)', () => {
  it('equal what buildFirmwareImageVectors() produces, so they never drift', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(built)));
  });

  it('lay the header out contiguously over 128 bytes', () => {
    let offset = 0;
    for (const field of committed.layout) {
      expect(field.offset).toBe(offset);
      offset += field.size;
    }
    expect(offset).toBe(FIRMWARE_HEADER_LENGTH);
  });

  it('cover every rejection reason', () => {
    const reasons = new Set(committed.invalid.map((vector) => vector.reason));
    expect([...reasons].sort()).toEqual([...FIRMWARE_IMAGE_REJECTION_REASONS].sort());
  });

  for (const vector of committed.valid) {
    it(`valid: ${vector.name}`, async () => {
      const image = fromHex(vector.imageHex);
      const verdict = await verifyFirmwareImage(image, options);
      expect(verdict.ok).toBe(true);
      expect(vector.signingInputHex).toBe(
        Buffer.from('mini-sharing/firmware-image/v1\0').toString('hex') +
          vector.imageHex.slice(0, FIRMWARE_HEADER_LENGTH * 2),
      );
    });
  }

  for (const vector of committed.invalid) {
    it(`invalid: ${vector.name} -> ${vector.reason}`, async () => {
      const image = fromHex(vector.imageHex);
      const verdict = await verifyFirmwareImage(image, options);
      expect(verdict).toMatchObject({ ok: false, reason: vector.reason });
      // byte by byte, the streaming verifier agrees
      const verifier = createFirmwareImageVerifier(options);
      for (let i = 0; i < image.length; i++) verifier.push(image.subarray(i, i + 1));
      expect(await verifier.finish()).toEqual(verdict);
    });
  }

  it('include a small-order R that only the strict rule refuses', () => {
    const vector = committed.invalid.find((candidate) => candidate.name === 'r-small-order');
    const image = fromHex(vector?.imageHex ?? '');
    const signed = fromHex(committed.valid[0]?.signingInputHex ?? '');
    const publicKey = fromHex(committed.keys.testReleaseKey.publicKeyHex);
    // ZIP 215 rules (lax about small-order points) accept it: the vector really tests strictness.
    expect(ed25519.verify(image.subarray(-64), signed, publicKey, { zip215: true })).toBe(true);
  });
});
