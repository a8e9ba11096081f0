/**
 * A module whose slots cannot boot serves the boot loader's recovery service: it refuses images
 * that fail verification (never activating them) and boots a good one once it is flashed and
 * activated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { seedSigner, sha256, utf8 } from '@mini-sharing/shared-protocol/crypto';
import { buildFirmwareImage } from '@mini-sharing/shared-protocol/firmware-image';
import { BootSlot, ErrorCode, RunMode } from '@mini-sharing/shared-protocol/messages';
import { ServiceSession, channelFromStream, hello } from '@mini-sharing/shared-protocol/session';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { RELEASES, bundleFirmware, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { developmentSigner } from '../../build/src/keys.js';
import {
  SimulatedModule,
  VirtualSerialLine,
  programFactoryImage,
  startSimulatedCar,
  type SimulatedCar,
} from '../sim/index.js';

const dir = mkdtempSync(join(tmpdir(), 'recovery-'));
let car: SimulatedCar;
let line: VirtualSerialLine;
let module: SimulatedModule;
let port: SerialPort;
let host: ServiceSession;

async function helloWhenUp(ready: (runMode: RunMode) => boolean, deadlineMs = 20_000) {
  const start = Date.now();
  for (;;) {
    try {
      const answer = await hello(host, 'e2e', { timeoutMs: 500, retries: 0 });
      if (ready(answer.runMode)) return answer;
    } catch (error) {
      if (Date.now() - start > deadlineMs) throw error;
    }
    if (Date.now() - start > deadlineMs) throw new Error(`module log:\n${module.log.join('\n')}`);
  }
}

async function flash(image: Uint8Array) {
  const begin = await host.request('flashBegin', {
    imageSize: image.length,
    imageSha256: sha256(image),
    transferSize: image.length,
    compression: 1,
  });
  for (let offset = begin.committedOffset; offset < image.length; offset += begin.chunkSize) {
    await host.request('flashData', {
      offset,
      data: image.subarray(offset, offset + begin.chunkSize),
    });
  }
  return host.request('flashEnd', {});
}

beforeAll(async () => {
  const fleetVehicle = exampleFleet().vehicles.find(
    (v) => v.moduleHardware?.hardwareRevision === 'HW-C',
  );
  if (!fleetVehicle?.moduleHardware) throw new Error('no HW-C module in the example fleet');
  car = await startSimulatedCar({ fleetVehicle, socketPath: join(dir, 'vbus.sock') });
  car.vehicle.setCharger(true);
  line = await VirtualSerialLine.open({ dir, timeScale: 0.05 });
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
  const storageDir = join(dir, 'flash');
  await programFactoryImage(storageDir, rogueImage);
  module = new SimulatedModule({
    output: 'pipe',
    config: {
      moduleSerial: fleetVehicle.moduleHardware.moduleSerial,
      hardwareRevision: 'HW-C',
      storageDir,
      serialPort: line.modulePath,
      vehicleBus: join(dir, 'vbus.sock'),
    },
  });
  module.powerOn();
  port = new SerialPort({ path: line.appPath, baudRate: 115200 });
  host = new ServiceSession({
    channel: channelFromStream(port),
    clock: systemClock,
    timeoutMs: 2000,
  });
}, 120_000);

afterAll(async () => {
  host?.close();
  if (port?.isOpen) await new Promise((resolve) => port.close(resolve));
  await module?.powerOff();
  await car?.close();
  await line?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('recovery service', () => {
  it('serves recovery when no slot holds an image signed by a pinned key', async () => {
    const answer = await helloWhenUp((mode) => mode === RunMode.RECOVERY);
    expect(answer.runMode).toBe(RunMode.RECOVERY);
    await expect(host.request('vehicleInfo', {})).rejects.toMatchObject({
      code: ErrorCode.UNSUPPORTED,
    });
  }, 60_000);

  it('refuses an image for other hardware and never activates it', async () => {
    const image = await buildFirmwareImage(
      {
        hardwareRevisions: ['HW-B'],
        version: { major: 1, minor: 1, patch: 0 },
        securityCounter: 1,
        payload: utf8('not for this module'),
      },
      developmentSigner('release'),
    );
    await expect(flash(image)).rejects.toMatchObject({ code: ErrorCode.IMAGE_INCOMPATIBLE });
    await expect(host.request('flashActivate', {})).rejects.toMatchObject({
      code: ErrorCode.NOTHING_TO_ACTIVATE,
    });
  }, 60_000);

  it('accepts a good image and boots it', async () => {
    const image = await buildFirmwareRelease(RELEASES[1]!);
    expect(await flash(image)).toMatchObject({ firmwareVersion: '1.1.0' });
    await host.request('flashActivate', {});
    const answer = await helloWhenUp((mode) => mode === RunMode.APPLICATION);
    expect(answer).toMatchObject({ firmwareVersion: '1.1.0', activeBootSlot: BootSlot.B });
  }, 60_000);
});
