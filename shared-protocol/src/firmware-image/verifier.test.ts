import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { concatBytes, seedSigner, utf8 } from '../crypto/index.js';
import type {
  FirmwareImageInput,
  FirmwareImageRejectionReason,
  FirmwareImageVerdict,
  FirmwareImageVerifierOptions,
} from './index.js';
import {
  FIRMWARE_HEADER_LENGTH,
  FIRMWARE_HEADER_OFFSETS as O,
  FIRMWARE_IMAGE_REJECTION_REASONS,
  buildFirmwareImage,
  createFirmwareImageVerifier,
  firmwareImageSigningInput,
  verifyFirmwareImage,
} from './index.js';
import { TEST_RELEASE_KEY_SEED, TEST_UNTRUSTED_KEY_SEED } from './vectors.js';

const release = seedSigner(TEST_RELEASE_KEY_SEED);
const untrusted = seedSigner(TEST_UNTRUSTED_KEY_SEED);
const options: FirmwareImageVerifierOptions = {
  trustedKeys: [{ publicKey: release.publicKey }],
  hardwareRevision: 'HW-C',
  minSecurityCounter: 5,
};
const input: FirmwareImageInput = {
  hardwareRevisions: ['HW-B', 'HW-C'],
  version: { major: 2, minor: 1, patch: 0 },
  securityCounter: 5,
  payload: Uint8Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff),
};
const image = await buildFirmwareImage(input, release);
const build = (changes: Partial<FirmwareImageInput>, signer = release) =>
  buildFirmwareImage({ ...input, ...changes }, signer);

/** A copy of `bytes` with the lowest bit of byte `at` flipped. */
function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] as number) ^ 1;
  return out;
}
/** A copy of the image with header fields changed, re-signed or not. */
async function editHeader(change: (view: DataView) => void, resign: boolean): Promise<Uint8Array> {
  const out = image.slice();
  change(new DataView(out.buffer, 0, FIRMWARE_HEADER_LENGTH));
  if (resign) out.set(await release.sign(firmwareImageSigningInput(out)), out.length - 64);
  return out;
}

/** Streams `bytes` split at the given points (modulo length) and returns the verdict. */
async function verifySplit(
  bytes: Uint8Array,
  cuts: readonly number[],
  verifierOptions = options,
): Promise<FirmwareImageVerdict> {
  const verifier = createFirmwareImageVerifier(verifierOptions);
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, bytes.length]) {
    verifier.push(bytes.subarray(start, point));
    start = point;
  }
  return verifier.finish();
}

const reasonOf = (verdict: FirmwareImageVerdict) => (verdict.ok ? 'ok' : verdict.reason);

describe('buildFirmwareImage and verifyFirmwareImage', () => {
  it('accept a freshly built image and return its header', async () => {
    const verdict = await verifyFirmwareImage(image, options);
    expect(verdict).toEqual({
      ok: true,
      header: {
        formatVersion: 1,
        headerLength: 128,
        hardwareRevisions: ['HW-B', 'HW-C'],
        version: { major: 2, minor: 1, patch: 0 },
        securityCounter: 5,
        payloadLength: 300,
        payloadSha256: expect.any(Uint8Array),
        signingKeyId: release.keyId,
      },
    });
    expect(image.length).toBe(128 + 300 + 64);
  });

  it('find the signing key among several trusted keys by its key id', async () => {
    const trustedKeys = [{ publicKey: untrusted.publicKey }, { publicKey: release.publicKey }];
    expect((await verifyFirmwareImage(image, { ...options, trustedKeys })).ok).toBe(true);
  });

  it('refuse release input the format cannot carry', async () => {
    const cases: Array<Partial<FirmwareImageInput>> = [
      { hardwareRevisions: [] },
      { hardwareRevisions: ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I'] },
      { hardwareRevisions: ['HW-C-EU12'] },
      { hardwareRevisions: ['HW C'] },
      { hardwareRevisions: ['HW-C', 'HW-C'] },
      { version: { major: 65536, minor: 0, patch: 0 } },
      { version: { major: 1, minor: -1, patch: 0 } },
      { securityCounter: 2 ** 32 },
      { securityCounter: 1.5 },
    ];
    for (const changes of cases) await expect(build(changes)).rejects.toThrow(RangeError);
  });
});

describe('one test per reason', () => {
  const expectRejected = async (
    bytes: Uint8Array,
    reason: FirmwareImageRejectionReason,
    words: RegExp,
    verifierOptions = options,
  ) => {
    const verdict = await verifyFirmwareImage(bytes, verifierOptions);
    expect(verdict).toEqual({ ok: false, reason, message: expect.stringMatching(words) });
  };

  it('bad-magic: not an image at all', () =>
    expectRejected(
      utf8('PK\x03\x04 a zip file'),
      'bad-magic',
      /not a MINI Sharing firmware image/,
    ));

  it('unsupported-format-version: a newer format', async () =>
    expectRejected(
      await editHeader((view) => view.setUint16(O.formatVersion, 2, true), true),
      'unsupported-format-version',
      /format 2; this software reads format 1 only/,
    ));

  it('malformed-header: a hardware revision slot with bytes after its padding', async () =>
    expectRejected(
      await editHeader((view) => view.setUint8(O.hardwareRevisions + 6, 0x41), true),
      'malformed-header',
      /header is damaged \(hardware revision slot 1/,
    ));

  it('unknown-key: signed by a key the module does not pin', async () =>
    expectRejected(await build({}, untrusted), 'unknown-key', /does not trust/));

  it('incompatible-hardware: built for other revisions', async () =>
    expectRejected(
      await build({ hardwareRevisions: ['HW-B'] }),
      'incompatible-hardware',
      /^This image is for hardware HW-B; this module is HW-C\. Choose the firmware image for HW-C/,
    ));

  it('downgrade: security counter below the recorded one (equal is fine)', async () => {
    await expectRejected(
      await build({ securityCounter: 4 }),
      'downgrade',
      /security counter 4; this module accepts only 5 or higher/,
    );
    expect((await verifyFirmwareImage(image, { ...options, minSecurityCounter: 5 })).ok).toBe(true);
  });

  it('truncated: cut anywhere, the header announcing the full length', async () => {
    await expectRejected(image.subarray(0, 400), 'truncated', /ends after 400 of the 492 bytes/);
    await expectRejected(image.subarray(0, 60), 'truncated', /inside its 128-byte header/);
  });

  it('trailing-data: bytes after the signature', () =>
    expectRejected(concatBytes(image, Uint8Array.of(0)), 'trailing-data', /longer than the 492/));

  it('hash-mismatch: a payload byte changed', () =>
    expectRejected(flip(image, 200), 'hash-mismatch', /corrupted/));

  it('bad-signature: a header field changed after signing', async () =>
    expectRejected(
      await editHeader((view) => view.setUint32(O.securityCounter, 99, true), false),
      'bad-signature',
      /signature is not valid/,
    ));

  it('every reason has a test above', () => {
    expect(FIRMWARE_IMAGE_REJECTION_REASONS).toHaveLength(10);
  });
});

describe('check order', () => {
  // Each image fails two neighbouring checks; the earlier one must win, split or not.
  const cases: Array<[FirmwareImageRejectionReason, () => Promise<Uint8Array>]> = [
    ['bad-magic', async () => flip(flip(image, 0), O.formatVersion)],
    [
      'unsupported-format-version',
      () =>
        editHeader(
          (view) => (view.setUint16(O.formatVersion, 9, true), view.setUint8(O.reserved, 1)),
          true,
        ),
    ],
    ['malformed-header', async () => flip(await build({}, untrusted), O.reserved)],
    ['unknown-key', () => build({ hardwareRevisions: ['HW-A'] }, untrusted)],
    ['incompatible-hardware', () => build({ hardwareRevisions: ['HW-A'], securityCounter: 0 })],
    ['downgrade', async () => (await build({ securityCounter: 0 })).subarray(0, 200)],
    ['truncated', async () => flip(image, 200).subarray(0, 300)],
    ['trailing-data', async () => concatBytes(flip(image, 200), Uint8Array.of(1))],
    ['hash-mismatch', async () => flip(flip(image, 200), image.length - 1)],
  ];
  for (const [reason, make] of cases) {
    it(`${reason} comes first`, async () => {
      const bytes = await make();
      expect(reasonOf(await verifyFirmwareImage(bytes, options))).toBe(reason);
      expect(reasonOf(await verifySplit(bytes, [1, 5, 127, 129]))).toBe(reason);
    });
  }
});

describe('streaming', () => {
  it('gives the same verdict, word for word, however the bytes are split', async () => {
    const damaged = fc.oneof(
      fc.constant(image),
      fc.nat(image.length * 8 - 1).map((bit) => flip(image, bit >> 3)),
      fc.nat(image.length).map((end) => image.subarray(0, end)),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((extra) => concatBytes(image, extra)),
    );
    await fc.assert(
      fc.asyncProperty(damaged, fc.array(fc.nat(), { maxLength: 10 }), async (bytes, cuts) => {
        expect(await verifySplit(bytes, cuts)).toEqual(await verifyFirmwareImage(bytes, options));
      }),
      { numRuns: 300 },
    );
  });

  it('accepts the image fed one byte at a time', async () => {
    const cuts = Array.from({ length: image.length }, (_, i) => i);
    expect((await verifySplit(image, cuts)).ok).toBe(true);
  });

  it('refuses a wrong image as soon as its header is in, before the payload', async () => {
    const verifier = createFirmwareImageVerifier(options);
    const wrong = await build({ hardwareRevisions: ['HW-A'] });
    expect(verifier.push(wrong.subarray(0, 127))).toBeUndefined();
    expect(verifier.push(wrong.subarray(127, 128))).toMatchObject({
      reason: 'incompatible-hardware',
    });
    expect(verifier.header?.hardwareRevisions).toEqual(['HW-A']);
    expect(createFirmwareImageVerifier(options).push(utf8('X'))).toMatchObject({
      reason: 'bad-magic',
    });
  });

  it('refuses bytes past the end at once', () => {
    const verifier = createFirmwareImageVerifier(options);
    expect(verifier.push(image)).toBeUndefined();
    expect(verifier.push(Uint8Array.of(0))).toMatchObject({ reason: 'trailing-data' });
  });

  it('holds no payload: a header announcing 4 GiB is refused as truncated at once', async () => {
    const huge = await editHeader(
      (view) => view.setUint32(O.payloadLength, 0xffffffff, true),
      true,
    );
    const verdict = await verifyFirmwareImage(huge, options);
    expect(verdict).toMatchObject({ ok: false, reason: 'truncated' });
    expect(verdict.ok || verdict.message).toMatch(/of the 4294967487 bytes/);
  });

  it('finish() is idempotent and later pushes change nothing', async () => {
    const verifier = createFirmwareImageVerifier(options);
    verifier.push(image);
    const first = await verifier.finish();
    expect(verifier.push(Uint8Array.of(0))).toBeUndefined();
    expect(await verifier.finish()).toBe(first);
    expect(first.ok).toBe(true);
    expect(verifier.bytesReceived).toBe(image.length);
  });
});

describe('hostile input never throws and is never accepted', () => {
  const imagePrefix = image.subarray(0, 24);
  const hostile = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    // past the magic and version, so the deeper checks get exercised
    fc.uint8Array({ maxLength: 600 }).map((tail) => concatBytes(imagePrefix, tail)),
    fc.uint8Array({ maxLength: 600 }).map((tail) => concatBytes(image.subarray(0, 128), tail)),
  );

  it('arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(hostile, fc.array(fc.nat(), { maxLength: 6 }), async (bytes, cuts) => {
        expect((await verifySplit(bytes, cuts)).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('any single bit flip anywhere in a valid image', async () => {
    for (let bit = 0; bit < image.length * 8; bit += 1) {
      const bytes = image.slice();
      bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
      expect((await verifyFirmwareImage(bytes, options)).ok).toBe(false);
    }
  });

  it('any truncation', async () => {
    for (let end = 0; end < image.length; end++) {
      expect(reasonOf(await verifyFirmwareImage(image.subarray(0, end), options))).toBe(
        'truncated',
      );
    }
  });

  it('a verifier that trusts no key refuses everything', async () => {
    const verdict = await verifyFirmwareImage(image, { ...options, trustedKeys: [] });
    expect(reasonOf(verdict)).toBe('unknown-key');
  });
});
