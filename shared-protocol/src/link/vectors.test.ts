import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesEqual, fromHex } from '../crypto/bytes.js';
import { verifyCloudEnvelope, verifyModuleEnvelope } from './envelopes.js';
import { buildLinkVectors } from './vectors.js';

const file = join(import.meta.dirname, '../../vectors/link.json');

describe('vectors/link.json', () => {
  it('equals what buildLinkVectors() produces (npm run vectors -w shared-protocol rewrites it)', async () => {
    const built = JSON.parse(JSON.stringify(await buildLinkVectors())) as unknown;
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(built);
  });

  it('every envelope in it verifies with the vector keys at its own time', async () => {
    const vectors = await buildLinkVectors();
    const lookup = (hex: { keyIdHex: string; publicKeyHex: string }) => (keyId: Uint8Array) =>
      bytesEqual(keyId, fromHex(hex.keyIdHex)) ? fromHex(hex.publicKeyHex) : undefined;
    for (const vector of vectors.cloudEnvelopes) {
      const issuedAtMs = Number((vector.envelope as { issuedAtMs: string }).issuedAtMs);
      const verdict = await verifyCloudEnvelope(fromHex(vector.payloadHex), {
        moduleSerial: vectors.moduleSerial,
        cloudKeys: lookup(vectors.keys.cloudSigningKey),
        nowMs: issuedAtMs,
      });
      expect(verdict.ok, vector.name).toBe(true);
    }
    for (const vector of vectors.moduleEnvelopes) {
      const verdict = await verifyModuleEnvelope(fromHex(vector.payloadHex), {
        moduleSerial: vectors.moduleSerial,
        moduleKeys: lookup(vectors.keys.moduleIdentityKey),
        nowMs: Number((vector.envelope as { timeMs: string }).timeMs),
      });
      expect(verdict.ok, vector.name).toBe(true);
    }
  });
});
