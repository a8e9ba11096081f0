/**
 * A simulated module booted from a signed image, end to end: factory image in slot A, the boot
 * loader and the firmware as real processes, the car on the vehicle bus, the workshop on the
 * virtual serial line with real serialport. Flashing the next version over the service link
 * changes what runs: the module test-boots it, the new firmware confirms itself and reports its
 * version; a power cycle keeps it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { sha256 } from '@mini-sharing/shared-protocol/crypto';
import { BootSlot, RunMode } from '@mini-sharing/shared-protocol/messages';
import { ServiceSession, channelFromStream, hello } from '@mini-sharing/shared-protocol/session';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import {
  SimClock,
  SimulatedModule,
  SimulatedVehicle,
  VehicleBusServer,
  VirtualSerialLine,
  programFactoryImage,
} from '../sim/index.js';

const dir = mkdtempSync(join(tmpdir(), 'module-boot-'));
let line: VirtualSerialLine;
let bus: VehicleBusServer;
let module: SimulatedModule;
let port: SerialPort;
let host: ServiceSession;
let vehicle: SimulatedVehicle;
const images: Uint8Array[] = [];

/** HELLO until the module answers as expected (it is booting or rebooting meanwhile). */
async function helloWhenUp(ready: (version: string) => boolean = () => true, deadlineMs = 20_000) {
  const start = Date.now();
  for (;;) {
    try {
      const answer = await hello(host, 'e2e', { timeoutMs: 500, retries: 0 });
      if (ready(answer.firmwareVersion)) return answer;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } catch (error) {
      if (Date.now() - start > deadlineMs) {
        throw new Error(`${String(error)}\nmodule log:\n${module.log.join('\n')}`, {
          cause: error,
        });
      }
    }
    if (Date.now() - start > deadlineMs) throw new Error(`module log:\n${module.log.join('\n')}`);
  }
}

beforeAll(async () => {
  images.push(await buildFirmwareRelease(RELEASES[0]!), await buildFirmwareRelease(RELEASES[1]!));
  const fleetVehicle = exampleFleet().vehicles.find(
    (v) => v.optionCodes.includes('5GE') && v.moduleHardware,
  );
  if (!fleetVehicle?.moduleHardware)
    throw new Error('the example fleet has no 5GE car with a module');
  const clock = new SimClock();
  vehicle = new SimulatedVehicle(clock, { fleetVehicle });
  vehicle.setCharger(true);
  bus = await VehicleBusServer.listen({ path: join(dir, 'vbus.sock'), vehicle, clock });
  line = await VirtualSerialLine.open({ dir, timeScale: 0.05 });
  const storageDir = join(dir, 'flash');
  await programFactoryImage(storageDir, images[0]!);
  module = new SimulatedModule({
    output: 'pipe',
    config: {
      moduleSerial: fleetVehicle.moduleHardware.moduleSerial,
      hardwareRevision: fleetVehicle.moduleHardware.hardwareRevision,
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
    timeoutMs: 1000,
  });
}, 120_000);

afterAll(async () => {
  host?.close();
  if (port?.isOpen) await new Promise((resolve) => port.close(resolve));
  await module?.powerOff();
  await bus?.close();
  await line?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('simulated module booted from signed images', () => {
  it('runs the factory image and reads the car through the 5GE interface', async () => {
    const answer = await helloWhenUp();
    expect(answer).toMatchObject({
      firmwareVersion: '1.0.0',
      runMode: RunMode.APPLICATION,
      activeBootSlot: BootSlot.A,
    });
    const info = await host.request('vehicleInfo', {});
    expect(info).toMatchObject({ sharingInterfacePresent: true, vin: vehicle.snapshot().vin });
    expect(info.optionCodes).toContain('5GE');
  }, 60_000);

  it('flashes 1.1.0 into slot B, test-boots it, and the new firmware reports itself', async () => {
    const image = images[1]!;
    const begin = await host.request('flashBegin', {
      imageSize: image.length,
      imageSha256: sha256(image),
      transferSize: image.length,
      chunkSize: 4096,
      window: 8,
      compression: 1,
    });
    expect(begin.targetSlot).toBe(BootSlot.B);
    const chunk = begin.chunkSize;
    for (
      let offset = begin.committedOffset;
      offset < image.length;
      offset += chunk * begin.window
    ) {
      const batch = [];
      for (let k = 0; k < begin.window && offset + k * chunk < image.length; k++) {
        const at = offset + k * chunk;
        batch.push(host.request('flashData', { offset: at, data: image.subarray(at, at + chunk) }));
      }
      await Promise.all(batch);
    }
    expect(await host.request('flashEnd', {})).toMatchObject({
      targetSlot: BootSlot.B,
      firmwareVersion: '1.1.0',
    });
    await host.request('flashActivate', {});
    const answer = await helloWhenUp((version) => version !== '1.0.0');
    expect(answer).toMatchObject({ firmwareVersion: '1.1.0', activeBootSlot: BootSlot.B });
  }, 120_000);

  it('keeps the confirmed image across a power cycle', async () => {
    await module.powerOff();
    module.powerOn();
    expect(await helloWhenUp()).toMatchObject({
      firmwareVersion: '1.1.0',
      activeBootSlot: BootSlot.B,
    });
  }, 60_000);
});
