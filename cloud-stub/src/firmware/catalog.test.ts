/** The firmware catalog on both engines: what gets in (only trusted, intact images) and out. */
import { describe, expect, it } from 'vitest';
import { toHex, sha256 } from '@mini-sharing/shared-protocol/crypto';
import { makeImage, releaseSigner, strangerSigner } from '../../test/helpers.js';
import { describeEngines } from '../storage/testing/engines.js';
import {
  findFirmwareImage,
  inspectFirmwareImage,
  listFirmwareImages,
  publishFirmwareImage,
  readFirmwareImageBytes,
} from './catalog.js';

const now = new Date('2026-06-01T12:00:00Z');
const releaseKeys = [{ publicKey: releaseSigner().publicKey }];

describe('inspecting an image', () => {
  it('reads version, revisions and security counter from the signed header', async () => {
    const bytes = await makeImage({
      version: [1, 4, 2],
      hardwareRevisions: ['HW-C'],
      securityCounter: 7,
    });
    const inspection = await inspectFirmwareImage(bytes, releaseKeys);
    expect(inspection).toMatchObject({
      ok: true,
      id: toHex(sha256(bytes)),
      header: {
        version: { major: 1, minor: 4, patch: 2 },
        hardwareRevisions: ['HW-C'],
        securityCounter: 7,
      },
    });
  });

  it('refuses an image signed by an untrusted key, a tampered one, a cut one and a non-image', async () => {
    const foreign = await makeImage({ signer: strangerSigner() });
    expect(await inspectFirmwareImage(foreign, releaseKeys)).toMatchObject({
      ok: false,
      reason: 'unknown-key',
    });
    const tampered = await makeImage();
    tampered[tampered.length - 70]! ^= 0x01;
    expect(await inspectFirmwareImage(tampered, releaseKeys)).toMatchObject({
      ok: false,
      reason: 'hash-mismatch',
    });
    const good = await makeImage();
    expect(
      await inspectFirmwareImage(good.subarray(0, good.length - 1), releaseKeys),
    ).toMatchObject({
      ok: false,
      reason: 'truncated',
    });
    expect(
      await inspectFirmwareImage(new TextEncoder().encode('{"not": "an image"}'), releaseKeys),
    ).toMatchObject({
      ok: false,
      reason: 'bad-magic',
    });
  });
});

describeEngines('firmware catalog', (storage) => {
  it('lists published images newest first, per hardware revision, and serves them byte for byte', async () => {
    const { db } = storage();
    const old = await makeImage({
      version: [1, 0, 0],
      hardwareRevisions: ['HW-B', 'HW-C'],
      securityCounter: 1,
    });
    const newer = await makeImage({
      version: [1, 10, 0],
      hardwareRevisions: ['HW-C'],
      securityCounter: 4294967295,
    });
    const mid = await makeImage({ version: [1, 2, 0], hardwareRevisions: ['HW-B'] });
    for (const [bytes, notes] of [
      [old, 'first'],
      [newer, 'newest'],
      [mid, 'mid'],
    ] as const) {
      expect(
        await publishFirmwareImage(db, { bytes, releaseNotes: notes, releaseKeys, now }),
      ).toMatchObject({
        outcome: 'created',
      });
    }
    const all = await listFirmwareImages(db);
    expect(all.map((image) => image.version)).toEqual(['1.10.0', '1.2.0', '1.0.0']);
    expect(all[0]).toEqual({
      id: toHex(sha256(newer)),
      version: '1.10.0',
      hardwareRevisions: ['HW-C'],
      securityCounter: 4294967295,
      releaseNotes: 'newest',
      sizeBytes: newer.length,
      signingKeyId: toHex(releaseSigner().keyId),
      publishedAt: now.toISOString(),
      downloadPath: `/v1/firmware/${toHex(sha256(newer))}/image`,
    });
    expect((await listFirmwareImages(db, 'HW-B')).map((image) => image.version)).toEqual([
      '1.2.0',
      '1.0.0',
    ]);
    expect(await listFirmwareImages(db, 'HW-A')).toEqual([]);
    const download = await readFirmwareImageBytes(db, toHex(sha256(old)));
    expect(download?.version).toBe('1.0.0');
    expect(Buffer.compare(download!.bytes, Buffer.from(old))).toBe(0);
  });

  it('keeps a rejected image out, and changes only the notes when the same image comes again', async () => {
    const { db } = storage();
    const foreign = await makeImage({ signer: strangerSigner() });
    expect(
      await publishFirmwareImage(db, { bytes: foreign, releaseNotes: '', releaseKeys, now }),
    ).toMatchObject({
      outcome: 'rejected',
      reason: 'unknown-key',
    });
    expect(await listFirmwareImages(db)).toEqual([]);
    const bytes = await makeImage();
    await publishFirmwareImage(db, { bytes, releaseNotes: 'v1 notes', releaseKeys, now });
    const again = await publishFirmwareImage(db, {
      bytes,
      releaseNotes: 'v1 notes, corrected',
      releaseKeys,
      now: new Date('2027-01-01T00:00:00Z'),
    });
    expect(again).toMatchObject({
      outcome: 'existing',
      image: { releaseNotes: 'v1 notes, corrected', publishedAt: now.toISOString() },
    });
    expect(await findFirmwareImage(db, toHex(sha256(bytes)))).toMatchObject({
      releaseNotes: 'v1 notes, corrected',
    });
  });

  it('refuses a different image for a version already released on one of its revisions', async () => {
    const { db } = storage();
    await publishFirmwareImage(db, {
      bytes: await makeImage({ version: [2, 0, 0], hardwareRevisions: ['HW-B'] }),
      releaseNotes: '',
      releaseKeys,
      now,
    });
    // Same version for HW-C only: a separate build per revision is fine.
    expect(
      await publishFirmwareImage(db, {
        bytes: await makeImage({ version: [2, 0, 0], hardwareRevisions: ['HW-C'] }),
        releaseNotes: '',
        releaseKeys,
        now,
      }),
    ).toMatchObject({ outcome: 'created' });
    const clash = await publishFirmwareImage(db, {
      bytes: await makeImage({
        version: [2, 0, 0],
        hardwareRevisions: ['HW-A', 'HW-B'],
        payload: 'rebuilt',
      }),
      releaseNotes: '',
      releaseKeys,
      now,
    });
    expect(clash).toMatchObject({ outcome: 'conflict' });
    if (clash.outcome === 'conflict')
      expect(clash.message).toMatch(/already has a different image of version 2\.0\.0 for HW-B/);
    // Nothing of the refused image: not even its HW-A listing.
    expect(await listFirmwareImages(db, 'HW-A')).toEqual([]);
    expect(await db.selectFrom('firmware_images').select('id').execute()).toHaveLength(2);
  });
});
