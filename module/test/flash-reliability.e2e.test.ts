/**
 * Flashing over a noisy line: with a bit error rate of 1e-5 on the virtual serial line, frames are
 * lost in both directions; the host retransmits only what is missing, the module holds chunks
 * that arrived ahead of a lost one, and the right image ends up running.
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
    timeoutMs: 400,
  });
  await rig.helloWhen();
}, 120_000);

afterAll(() => rig?.close());

describe('flashing over a line with bit errors', () => {
  it('flashes the right image at a bit error rate of 1e-5', async () => {
    rig.line.setFaults({ bitErrorRate: 1e-5 });
    const client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
    const result = await new FlashSender(client).flash(update, { chunkSize: 2048, window: 8 });
    rig.line.setFaults({ bitErrorRate: 0 });
    expect(result.end.firmwareVersion).toBe('1.1.0');
    const { appToModule, moduleToApp } = rig.line.stats;
    expect(appToModule.flippedBits + moduleToApp.flippedBits).toBeGreaterThan(0);
    expect(await rig.helloWhen((answer) => answer.firmwareVersion !== '1.0.0')).toMatchObject({
      firmwareVersion: '1.1.0',
      activeBootSlot: BootSlot.B,
    });
  }, 180_000);
});
