import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../crypto/bytes.js';
import { verifyCommand } from './digital-key.js';
import { trustFixtures } from './test-fixtures.js';
import { buildTrustVectors } from './vectors.js';

const file = join(import.meta.dirname, '../../vectors/trust.json');

describe('trust vectors', () => {
  it('the committed vectors are what the code produces (regenerate: npm run vectors -w shared-protocol)', async () => {
    const committed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(await buildTrustVectors())));
  });

  it('the command cases decide as stated', async () => {
    const vectors = await buildTrustVectors();
    const { keyRing } = await trustFixtures();
    const { context } = vectors.commands;
    for (const testCase of vectors.commands.cases) {
      const verdict = await verifyCommand(
        fromHex(vectors.commands.digitalKey),
        fromHex(testCase.command),
        {
          moduleSerial: context.moduleSerial,
          keyRing,
          nowMs: context.nowMs,
          trustedTimeFloorMs: context.trustedTimeFloorMs,
          ownerGeneration: context.ownerGeneration,
          challenge: {
            nonce: fromHex(context.challenge.nonce),
            expiresAtMs: context.challenge.expiresAtMs,
          },
          lastCounter: () => BigInt(context.lastCounter),
          isRevoked: () => false,
        },
      );
      expect(verdict.ok ? 'accept' : verdict.reason).toBe(testCase.expect);
    }
  });
});
