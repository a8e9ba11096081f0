/**
 * A module whose slots cannot boot serves the boot loader's recovery service: it refuses images
 * that fail verification (never activating them) and boots a good one once it is flashed and
 * activated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { seedSigner, sha256, utf8 } from '@mini-sharing/shared-protocol/crypto';
import { FlashSender, ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import { buildFirmwareImage } from '@mini-sharing/shared-protocol/firmware-image';
import { BootSlot, ErrorCode, RunMode } from '@mini-sharing/shared-protocol/messages';
import { RELEASES, bundleFirmware, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { developmentSigner } from '../../build/src/keys.js';
import { startModuleRig, type ModuleRig } from '../sim/index.js';

let rig: ModuleRig;

/** Flash with the one host client; activation is left to the test. */
function flash(image: Uint8Array) {
  const client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
  return new FlashSender(client).flash(image, { window: 1, activate: false }).then((r) => r.end);
}

beforeAll(async () => {
  // the factory image is signed by a key the boot loader does not pin: nothing can boot
  const rogue = seedSigner(sha256(utf8('mini-sharing TEST key: rogue release')));
  const rogueImage = await buildFirmwareImage(
    {
      hardwareRevisions: ['HW-C'],
      version: { major: 9, minor: 9, patch: 9 },
      securityCounter: 9,
      payload: await bundleFirmware(RELEASES[1]!),
    },
    rogue,
  );
  rig = await startModuleRig({
    factoryImage: rogueImage,
    pick: (v) => v.moduleHardware?.hardwareRevision === 'HW-C',
    timeoutMs: 2000,
  });
}, 120_000);

afterAll(() => rig?.close());

describe('recovery service', () => {
  it('serves recovery when no slot holds an image signed by a pinned key', async () => {
    const answer = await rig.helloWhen((a) => a.runMode === RunMode.RECOVERY);
    expect(answer.runMode).toBe(RunMode.RECOVERY);
    await expect(rig.host.request('vehicleInfo', {})).rejects.toMatchObject({
      code: ErrorCode.UNSUPPORTED,
    });
  }, 60_000);

  it('refuses an image for other hardware as soon as its header is in, and never activates it', async () => {
    const image = await buildFirmwareImage(
      {
        hardwareRevisions: ['HW-B'],
        version: { major: 1, minor: 1, patch: 0 },
        securityCounter: 1,
        payload: new Uint8Array(64 * 1024).fill(7),
      },
      developmentSigner('release'),
    );
    const client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
    const sender = new FlashSender(client);
    await expect(
      sender.flash(image, { window: 1, chunkSize: 4096, activate: false }),
    ).rejects.toMatchObject({
      code: ErrorCode.IMAGE_INCOMPATIBLE,
    });
    // refused at the first chunk, not after the whole 64 KiB
    expect(sender.sentOffsets.length).toBeLessThanOrEqual(2);
    await expect(rig.host.request('flashActivate', {})).rejects.toMatchObject({
      code: ErrorCode.NOTHING_TO_ACTIVATE,
    });
  }, 60_000);

  it('accepts a good image and boots it', async () => {
    const image = await buildFirmwareRelease(RELEASES[1]!);
    expect(await flash(image)).toMatchObject({ firmwareVersion: '1.1.0' });
    await rig.host.request('flashActivate', {});
    const answer = await rig.helloWhen((a) => a.runMode === RunMode.APPLICATION);
    expect(answer).toMatchObject({ firmwareVersion: '1.1.0', activeBootSlot: BootSlot.B });
  }, 60_000);
});
