/**
 * A test phone (or workshop station): a real noble central that recognises its car by the
 * rotating advertisement (recognition material, as the cloud hands it out with a key), connects,
 * checks the key link version and talks through a KeyLinkClient. Tests and benchmarks only.
 */
import type { Characteristic, Noble, Peripheral } from '@stoprocent/noble';
import { withBindings } from '@stoprocent/noble';
import type { Signer } from '@mini-sharing/shared-protocol/crypto';
import {
  KEY_LINK_PROTOCOL_VERSION,
  KEY_NOTIFY_CHARACTERISTIC_UUID,
  KEY_SERVICE_UUID,
  KEY_VERSION_CHARACTERISTIC_UUID,
  KEY_WRITE_CHARACTERISTIC_UUID,
  compactUuid,
  decodeAdvertisementServiceData,
  decodeKeyLinkVersion,
  matchAdvertisement,
  type AdvertisedState,
  type RecognitionMaterial,
} from '@mini-sharing/shared-protocol/gatt';
import { KeyLinkClient, type PhoneCounters } from './key-link-client.js';

const SERVICE = compactUuid(KEY_SERVICE_UUID);
const WRITE = compactUuid(KEY_WRITE_CHARACTERISTIC_UUID);
const NOTIFY = compactUuid(KEY_NOTIFY_CHARACTERISTIC_UUID);
const VERSION = compactUuid(KEY_VERSION_CHARACTERISTIC_UUID);

export interface FoundCar {
  peripheral: Peripheral;
  /** The car's state as unmasked from the advertisement. */
  state: AdvertisedState | undefined;
  windowIndex: number;
}

export interface PhoneConnection {
  client: KeyLinkClient;
  peripheral: Peripheral;
  disconnect(): Promise<void>;
}

export class TestPhone {
  readonly noble: Noble;
  /** Counters per token, kept across connections. */
  readonly counters: PhoneCounters = new Map();

  constructor(
    bindings: Parameters<typeof withBindings>[1],
    readonly device: Signer,
  ) {
    this.noble = withBindings('hci', bindings);
  }

  /**
   * Scans until an advertisement of the key service matches `material` at `nowMs()` (the phone's
   * clock); duplicates allowed, so a state or identifier change is heard. Stops scanning then.
   */
  async findCar(
    material: RecognitionMaterial,
    nowMs: () => number,
    timeoutMs = 10_000,
  ): Promise<FoundCar> {
    const noble = this.noble;
    await noble.waitForPoweredOnAsync(timeoutMs);
    return new Promise<FoundCar>((resolve, reject) => {
      const timer = setTimeout(() => {
        noble.removeListener('discover', onDiscover);
        void noble.stopScanningAsync().catch(() => undefined);
        reject(new Error(`no car matching the recognition material within ${timeoutMs} ms`));
      }, timeoutMs);
      const onDiscover = (peripheral: Peripheral) => {
        const entry = peripheral.advertisement.serviceData?.find((data) => data.uuid === SERVICE);
        const payload = entry && decodeAdvertisementServiceData(new Uint8Array(entry.data));
        const match = payload && matchAdvertisement(material, payload, nowMs());
        if (!match?.mine) return;
        clearTimeout(timer);
        noble.removeListener('discover', onDiscover);
        noble.stopScanningAsync().then(
          () => resolve({ peripheral, state: match.state, windowIndex: match.windowIndex }),
          (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
        );
      };
      noble.on('discover', onDiscover);
      noble.startScanningAsync([SERVICE], true).catch((error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /**
   * Connects, checks the protocol version and enables notifications. `device`: sign with another
   * holder's device key on this radio (a workshop station's, in tests).
   */
  async connect(peripheral: Peripheral, device: Signer = this.device): Promise<PhoneConnection> {
    await peripheral.connectAsync();
    try {
      const { characteristics } = await peripheral.discoverSomeServicesAndCharacteristicsAsync(
        [SERVICE],
        [WRITE, NOTIFY, VERSION],
      );
      const find = (uuid: string): Characteristic => {
        const found = characteristics.find((characteristic) => characteristic.uuid === uuid);
        if (!found) throw new Error(`the car has no characteristic ${uuid}`);
        return found;
      };
      const version = decodeKeyLinkVersion(new Uint8Array(await find(VERSION).readAsync()));
      if (version?.major !== KEY_LINK_PROTOCOL_VERSION.major) {
        throw new Error(`the car speaks key link ${version?.major ?? '?'}.x; update the phone`);
      }
      const write = find(WRITE);
      const notify = find(NOTIFY);
      await notify.subscribeAsync();
      const client = new KeyLinkClient(
        {
          mtu: peripheral.mtu ?? 23,
          write: (chunk) => write.writeAsync(Buffer.from(chunk), true),
          onNotification: (listener) => {
            const onData = (data: Buffer) => listener(new Uint8Array(data));
            notify.on('data', onData);
            return () => notify.removeListener('data', onData);
          },
        },
        device,
        this.counters,
      );
      return {
        client,
        peripheral,
        disconnect: async () => {
          client.close();
          await peripheral.disconnectAsync();
        },
      };
    } catch (error) {
      await peripheral.disconnectAsync().catch(() => undefined);
      throw error;
    }
  }

  stop(): void {
    this.noble.stop();
  }
}
