/**
 * Deflate-compressed flashing end to end (issue #6): the simulated module booted from 1.0.0, the
 * host sends 1.1.0 as deflate segments with the shared FlashSender over the virtual serial line
 * (real serialport), the module's power is cut mid-transfer (its process tree killed), and after
 * power-on the resumed transfer goes on from a segment boundary, verifies, activates and 1.1.0
 * boots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { BootSlot } from '@mini-sharing/shared-protocol/messages';
import { FlashSender, ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { startModuleRig, type ModuleRig } from '../sim/index.js';

let rig: ModuleRig;
let update: Uint8Array;

beforeAll(async () => {
  update = await buildFirmwareRelease(RELEASES[1]!);
  rig = await startModuleRig({
    factoryImage: await buildFirmwareRelease(RELEASES[0]!),
    timeoutMs: 500,
  });
  await rig.helloWhen();
}, 120_000);

afterAll(() => rig?.close());

describe('compressed flashing over the serial line', () => {
  it('flashes 1.1.0 as deflate segments across a power cut and boots it', async () => {
    const options = {
      chunkSize: 2048,
      window: 8,
      compression: 'deflate',
      segmentSize: 32 * 1024,
    } as const;
    let acknowledged = 0;
    let cut: Promise<void> | undefined;
    const first = await new FlashSender(
      new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' }),
    )
      .flash(update, {
        ...options,
        maxResends: 0,
        pausePollMs: 100,
        onProgress: (progress) => {
          if (cut) return;
          acknowledged = progress.bytesCommitted;
          if (progress.bytesCommitted > progress.total / 3) cut = rig.module.powerOff();
        },
      })
      .catch((error: unknown) => error);
    expect(first).toBeInstanceOf(Error);
    await cut;
    rig.module.powerOn();
    await rig.helloWhen((answer) => answer.firmwareVersion === '1.0.0');

    const sender = new FlashSender(
      new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' }),
    );
    const result = await sender.flash(update, { ...options, resume: true });
    expect(result.compression).toBe('deflate');
    expect(result.transferSize).toBeLessThan(update.length / 2);
    // went on from what the module had written for good, at a segment boundary
    expect(result.startOffset).toBeGreaterThanOrEqual(acknowledged);
    expect(result.startOffset).toBeLessThan(result.transferSize);
    expect(Math.min(...sender.sentOffsets)).toBe(result.startOffset);
    expect(result.end.firmwareVersion).toBe('1.1.0');
    expect(await rig.helloWhen((answer) => answer.firmwareVersion !== '1.0.0')).toMatchObject({
      firmwareVersion: '1.1.0',
      activeBootSlot: BootSlot.B,
    });
  }, 180_000);
});
