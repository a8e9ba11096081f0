// The central side of the demo service (see demo-peripheral.ts), on a real noble.
import type { Characteristic, Noble, Peripheral } from '@stoprocent/noble';
import { DEMO_CHARACTERISTIC_UUID, DEMO_SERVICE_UUID } from './demo-peripheral.js';

/**
 * Scans until a peripheral advertising `name` is found (scanning stops then). Scanning with
 * duplicates filtered, as noble does by default.
 */
export async function findByName(
  noble: Noble,
  name: string,
  timeoutMs = 10_000,
): Promise<Peripheral> {
  await noble.waitForPoweredOnAsync(timeoutMs);
  return new Promise<Peripheral>((resolve, reject) => {
    const timer = setTimeout(() => {
      noble.removeListener('discover', onDiscover);
      void noble.stopScanningAsync().catch(() => undefined);
      reject(new Error(`no peripheral named ${name} found within ${timeoutMs} ms`));
    }, timeoutMs);
    const onDiscover = (peripheral: Peripheral) => {
      if (peripheral.advertisement.localName !== name) return;
      clearTimeout(timer);
      noble.removeListener('discover', onDiscover);
      noble.stopScanningAsync().then(
        () => resolve(peripheral),
        (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
      );
    };
    noble.on('discover', onDiscover);
    noble.startScanningAsync([], false).catch((error: unknown) => {
      clearTimeout(timer);
      reject(error instanceof Error ? error : new Error(String(error)));
    });
  });
}

/** The demo characteristic of a connected peripheral. */
export async function demoCharacteristic(peripheral: Peripheral): Promise<Characteristic> {
  const { characteristics } = await peripheral.discoverSomeServicesAndCharacteristicsAsync(
    [DEMO_SERVICE_UUID],
    [DEMO_CHARACTERISTIC_UUID],
  );
  const characteristic = characteristics[0];
  if (!characteristic) throw new Error(`${peripheral.address} has no demo characteristic`);
  return characteristic;
}

/** Writes `data` (with response) and returns the notification that answers it. */
export async function writeAndAwaitNotification(
  characteristic: Characteristic,
  data: Buffer,
): Promise<Buffer> {
  const notified = new Promise<Buffer>((resolve) => characteristic.once('data', resolve));
  await characteristic.writeAsync(data, false);
  return notified;
}
