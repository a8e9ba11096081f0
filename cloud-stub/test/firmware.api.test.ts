/** The firmware routes over HTTP (app.inject), on both engines. */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { sha256, toHex } from '@mini-sharing/shared-protocol/crypto';
import type { CloudApp } from '../src/app.js';
import { publishFirmwareImage } from '../src/firmware/catalog.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { TEST_NOW, as, makeImage, releaseSigner, strangerSigner, testApp } from './helpers.js';

const releaseKeys = [{ publicKey: releaseSigner().publicKey }];

describeEngines('firmware API', (storage) => {
  let cloud: CloudApp;
  let hwB: Uint8Array;
  let hwBC: Uint8Array;
  beforeAll(async () => {
    cloud = await testApp(storage());
    hwB = await makeImage({ version: [1, 0, 0], hardwareRevisions: ['HW-B'], securityCounter: 1 });
    hwBC = await makeImage({
      version: [1, 1, 0],
      hardwareRevisions: ['HW-B', 'HW-C'],
      securityCounter: 2,
    });
  });
  afterAll(async () => {
    await cloud.app.close();
  });
  beforeEach(async () => {
    for (const bytes of [hwB, hwBC]) {
      await publishFirmwareImage(storage().db, {
        bytes,
        releaseNotes: `notes ${bytes.length}`,
        releaseKeys,
        now: TEST_NOW,
      });
    }
  });

  it('lists the catalog, newest first, and per hardware revision', async () => {
    const all = await cloud.app.inject({ url: '/v1/firmware', headers: as('mechanic') });
    expect(all.statusCode).toBe(200);
    expect(all.json().images.map((i: { version: string }) => i.version)).toEqual([
      '1.1.0',
      '1.0.0',
    ]);
    const hwC = await cloud.app.inject({
      url: '/v1/firmware?hardwareRevision=HW-C',
      headers: as('mechanic'),
    });
    expect(hwC.json()).toEqual({
      images: [
        {
          id: toHex(sha256(hwBC)),
          version: '1.1.0',
          hardwareRevisions: ['HW-B', 'HW-C'],
          securityCounter: 2,
          releaseNotes: `notes ${hwBC.length}`,
          sizeBytes: hwBC.length,
          signingKeyId: toHex(releaseSigner().keyId),
          publishedAt: TEST_NOW.toISOString(),
          downloadPath: `/v1/firmware/${toHex(sha256(hwBC))}/image`,
        },
      ],
    });
  });

  it('refuses an unknown hardware revision, naming the known ones', async () => {
    const response = await cloud.app.inject({
      url: '/v1/firmware?hardwareRevision=HW-Z',
      headers: as('mechanic'),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({
      code: 'invalid-request',
      message: 'querystring.hardwareRevision: must be one of "HW-A", "HW-B", "HW-C"',
    });
  });

  it('downloads an image byte for byte, as a file', async () => {
    const listed = await cloud.app.inject({
      url: '/v1/firmware?hardwareRevision=HW-B',
      headers: as('dealer-admin'),
    });
    const entry = listed.json().images[1];
    const response = await cloud.app.inject({
      url: entry.downloadPath,
      headers: as('dealer-admin'),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/octet-stream');
    expect(response.headers['content-disposition']).toBe(
      'attachment; filename="mini-sharing-firmware-1.0.0.msfw"',
    );
    expect(response.headers.etag).toBe(`"${entry.id}"`);
    expect(Buffer.compare(response.rawPayload, Buffer.from(hwB))).toBe(0);
  });

  it('answers 404 for an unknown image and 400 for an id that is not one', async () => {
    const unknown = await cloud.app.inject({
      url: `/v1/firmware/${'0'.repeat(64)}/image`,
      headers: as('mechanic'),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not-found');
    const bad = await cloud.app.inject({
      url: '/v1/firmware/1.0.0/image',
      headers: as('mechanic'),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({
      code: 'invalid-request',
      details: [{ path: 'params.id' }],
    });
  });

  it('publishes a signed image (201), again (200), and refuses a foreign or clashing one', async () => {
    const publish = (bytes: Uint8Array, releaseNotes = 'fixes') =>
      cloud.app.inject({
        method: 'POST',
        url: '/v1/firmware',
        headers: as('agent'),
        payload: { image: Buffer.from(bytes).toString('base64'), releaseNotes },
      });
    const image = await makeImage({
      version: [1, 2, 0],
      hardwareRevisions: ['HW-C'],
      securityCounter: 3,
    });
    const created = await publish(image);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      version: '1.2.0',
      securityCounter: 3,
      releaseNotes: 'fixes',
    });
    expect((await publish(image)).statusCode).toBe(200);

    const foreign = await publish(
      await makeImage({ version: [9, 0, 0], signer: strangerSigner() }),
    );
    expect(foreign.statusCode).toBe(422);
    expect(foreign.json().error).toMatchObject({
      code: 'invalid-firmware-image',
      message: expect.stringMatching(/does not trust/),
    });
    const clash = await publish(
      await makeImage({ version: [1, 2, 0], hardwareRevisions: ['HW-C'], payload: 'other' }),
    );
    expect(clash.statusCode).toBe(409);
    expect(clash.json().error.code).toBe('conflict');
    const listed = await cloud.app.inject({ url: '/v1/firmware', headers: as('agent') });
    expect(listed.json().images.map((i: { version: string }) => i.version)).toEqual([
      '1.2.0',
      '1.1.0',
      '1.0.0',
    ]);
  });
});
