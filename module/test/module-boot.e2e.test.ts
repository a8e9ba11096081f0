/**
 * A simulated module booted from a signed image, end to end: factory image in slot A, the boot
 * loader and the firmware as real processes, the car on the vehicle bus, the workshop on the
 * virtual serial line with real serialport. Flashing the next version over the service link
 * changes what runs: the module test-boots it, the new firmware confirms itself and reports its
 * version; a power cycle keeps it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { FlashSender, ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import { BootSlot, RunMode } from '@mini-sharing/shared-protocol/messages';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { startModuleRig, type ModuleRig } from '../sim/index.js';

let rig: ModuleRig;
let update: Uint8Array;

beforeAll(async () => {
  update = await buildFirmwareRelease(RELEASES[1]!);
  rig = await startModuleRig({ factoryImage: await buildFirmwareRelease(RELEASES[0]!) });
}, 120_000);

afterAll(() => rig?.close());

describe('simulated module booted from signed images', () => {
  it('runs the factory image and reads the car through the 5GE interface', async () => {
    expect(await rig.helloWhen()).toMatchObject({
      firmwareVersion: '1.0.0',
      runMode: RunMode.APPLICATION,
      activeBootSlot: BootSlot.A,
    });
    const info = await rig.host.request('vehicleInfo', {});
    expect(info).toMatchObject({
      sharingInterfacePresent: true,
      vin: rig.car.vehicle.snapshot().vin,
    });
    expect(info.optionCodes).toContain('5GE');
  }, 60_000);

  it('flashes 1.1.0 into slot B, test-boots it, and the new firmware reports itself', async () => {
    const client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
    await client.connect();
    const progress: number[] = [];
    const result = await new FlashSender(client).flash(update, {
      chunkSize: 4096,
      window: 8,
      onProgress: (p) => progress.push(p.percent),
    });
    expect(result.begin.targetSlot).toBe(BootSlot.B);
    expect(result.end).toMatchObject({ targetSlot: BootSlot.B, firmwareVersion: '1.1.0' });
    expect(progress.at(-1)).toBe(100);
    expect(await rig.helloWhen((answer) => answer.firmwareVersion !== '1.0.0')).toMatchObject({
      firmwareVersion: '1.1.0',
      activeBootSlot: BootSlot.B,
    });
  }, 120_000);

  it('keeps the confirmed image across a power cycle', async () => {
    await rig.module.powerOff();
    rig.module.powerOn();
    expect(await rig.helloWhen()).toMatchObject({
      firmwareVersion: '1.1.0',
      activeBootSlot: BootSlot.B,
    });
  }, 60_000);
});
