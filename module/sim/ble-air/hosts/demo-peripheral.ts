// A small GATT service for demos, tests and the benchmark: read it, write to it, and it answers
// each write with a notification. Stands in for the module's key service until that exists.
import type { Bleno, ConnectionHandle, UpdateValueCallback } from '@stoprocent/bleno';

export const DEMO_SERVICE_UUID = '4d494e490000100080000000000000a1';
export const DEMO_CHARACTERISTIC_UUID = '4d494e490001100080000000000000a1';

export interface DemoPeripheralOptions {
  /** Local name in the scan response; what a central looks for. */
  name: string;
  /** Notification size; default the most the ATT MTU allows (253 bytes with noble's 256). */
  notifySize?: number;
}

export interface DemoPeripheralEvents {
  accept: { address: string };
  disconnect: { address: string };
  write: { bytes: number };
  subscribe: { maxValueSize: number };
}

/** The notification that answers `written`: `size` bytes counting up from its first byte. */
export function demoReply(written: Uint8Array, size: number): Buffer {
  return Buffer.from(
    Array.from({ length: size }, (_, index) => ((written[0] ?? 0) + index) & 0xff),
  );
}

/**
 * Serves the demo service on `bleno` and advertises it under `name`; resolves once
 * advertising. `onEvent` hears what centrals do.
 */
export async function serveDemo(
  bleno: Bleno,
  options: DemoPeripheralOptions,
  onEvent: <K extends keyof DemoPeripheralEvents>(
    kind: K,
    detail: DemoPeripheralEvents[K],
  ) => void = () => undefined,
): Promise<void> {
  const subscribers = new Map<
    ConnectionHandle,
    { notify: UpdateValueCallback; maxValueSize: number }
  >();
  const characteristic = new bleno.Characteristic({
    uuid: DEMO_CHARACTERISTIC_UUID,
    properties: ['read', 'write', 'notify'],
    onReadRequest: (_connection, _offset, callback) => callback(0, Buffer.from(options.name)),
    onWriteRequest: (connection, data, _offset, _withoutResponse, callback) => {
      onEvent('write', { bytes: data.length });
      callback(0);
      const subscriber = subscribers.get(connection);
      if (subscriber) {
        subscriber.notify(demoReply(data, options.notifySize ?? subscriber.maxValueSize));
      }
    },
    onSubscribe: (connection, maxValueSize, notify) => {
      subscribers.set(connection, { notify, maxValueSize });
      onEvent('subscribe', { maxValueSize });
    },
    onUnsubscribe: (connection) => subscribers.delete(connection),
  });
  bleno.on('accept', (address) => onEvent('accept', { address }));
  bleno.on('disconnect', (address, handle) => {
    subscribers.delete(handle);
    onEvent('disconnect', { address });
  });
  await bleno.waitForPoweredOnAsync();
  await bleno.setServicesAsync([
    new bleno.PrimaryService({ uuid: DEMO_SERVICE_UUID, characteristics: [characteristic] }),
  ]);
  await bleno.startAdvertisingAsync(options.name, [DEMO_SERVICE_UUID]);
}
