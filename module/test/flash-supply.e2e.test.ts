/**
 * The 12 V supply during a flash: below 13.0 V a flash does not start (connect the charger); if
 * the supply sags mid-flash the module stops writing, reports the pause, and the flash completes
 * once the charger holds the supply again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { ErrorCode, FlashState } from '@mini-sharing/shared-protocol/messages';
import {
  FlashSender,
  ServiceClient,
  type FlashProgress,
} from '@mini-sharing/shared-protocol/service-client';
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

describe('flashing and the 12 V supply', () => {
  it('does not start below 13.0 V and says to connect the charger', async () => {
    rig.car.vehicle.setCharger(false);
    const client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
    const error = await new FlashSender(client).flash(update).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.SUPPLY_VOLTAGE_LOW });
    expect((error as Error).message).toMatch(/Connect the charger/);
  }, 60_000);

  it('pauses while the supply sags mid-flash and completes after it recovers', async () => {
    rig.car.vehicle.setCharger(true);
    const client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
    const reports: FlashProgress[] = [];
    let sagged = false;
    let statusDuringSag: Promise<unknown> | undefined;
    const result = await new FlashSender(client).flash(update, {
      window: 4,
      activate: false,
      pausePollMs: 200,
      onProgress: (progress) => {
        reports.push(progress);
        if (!sagged && progress.percent > 20) {
          sagged = true;
          rig.car.vehicle.setCharger(false);
          setTimeout(() => {
            statusDuringSag = rig.host.request('flashStatus', {});
          }, 1000);
          setTimeout(() => rig.car.vehicle.setCharger(true), 3000);
        }
      },
    });
    expect(result.end.firmwareVersion).toBe('1.1.0');
    expect(await statusDuringSag).toMatchObject({
      state: FlashState.PAUSED,
      reason: expect.stringMatching(/Supply sagged to 12\.\d V/),
    });
    expect(reports.at(-1)?.percent).toBe(100);
  }, 120_000);
});
