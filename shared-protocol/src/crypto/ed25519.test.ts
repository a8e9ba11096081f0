import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.js';
import {
  ed25519Backend,
  ed25519PublicKey,
  signEd25519,
  strictEncodingProblem,
  verifyEd25519,
  type Ed25519Backend,
} from './ed25519.js';
import { strictnessCases } from './strictness-cases.js';

const backends: Ed25519Backend[] = ['webcrypto', 'noble'];

// RFC 8032 section 7.1, tests 1 and 2.
const rfc8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
];

describe('Ed25519', () => {
  it('uses WebCrypto on Node 20', async () => {
    expect(await ed25519Backend()).toBe('webcrypto');
  });

  for (const backend of backends) {
    it(`${backend}: reproduces the RFC 8032 test vectors`, async () => {
      for (const vector of rfc8032) {
        const seed = fromHex(vector.seed);
        expect(toHex(ed25519PublicKey(seed))).toBe(vector.publicKey);
        const signature = await signEd25519(seed, fromHex(vector.message), { backend });
        expect(toHex(signature)).toBe(vector.signature);
        expect(
          await verifyEd25519(fromHex(vector.publicKey), fromHex(vector.message), signature, {
            backend,
          }),
        ).toBe(true);
      }
    });

    it(`${backend}: gives the stated verdict on every strictness case`, async () => {
      for (const testCase of strictnessCases()) {
        const verdict = await verifyEd25519(
          fromHex(testCase.publicKey),
          fromHex(testCase.message),
          fromHex(testCase.signature),
          { backend },
        );
        expect({ name: testCase.name, verdict }).toEqual({
          name: testCase.name,
          verdict: testCase.valid,
        });
      }
    });
  }

  it('both backends agree on signatures and on any single flipped bit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(),
        async (seed, message, flip) => {
          const [a, b] = await Promise.all(
            backends.map((backend) => signEd25519(seed, message, { backend })),
          );
          expect(a).toEqual(b);
          const publicKey = ed25519PublicKey(seed);
          const damaged = a!.slice();
          damaged[flip % 64]! ^= 1 << (flip % 8);
          for (const backend of backends) {
            expect(await verifyEd25519(publicKey, message, a!, { backend })).toBe(true);
            expect(await verifyEd25519(publicKey, message, damaged, { backend })).toBe(false);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never throws on hostile input', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 70 }),
        async (key, sig) => {
          for (const backend of backends) {
            expect(await verifyEd25519(key, utf8('m'), sig, { backend })).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('names the strict rule a rejected encoding breaks', () => {
    const names = strictnessCases()
      .filter((c) => !c.valid)
      .map((c) => strictEncodingProblem(fromHex(c.publicKey), fromHex(c.signature)) ?? 'equation');
    expect(names).toContain('S is not below the group order');
    expect(names).toContain('public key is a point of small order');
    expect(names).toContain('public key is not canonically encoded');
    expect(names).toContain('R is a point of small order');
  });
});
