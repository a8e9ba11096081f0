/**
 * What a module does for sharing, as the firmware runs it: keyless access (the AccessController,
 * and the key link on BLE when the module has a radio) and, while provisioned, the cloud link
 * with the controller as its command target, the fault memory as its fault source and the module
 * log as its log.
 *
 * Order: keyless access opens first, with the report hold listening from its first event (what
 * opening settles after a power cut included); the cloud link starts right after and takes what
 * was held. A provisioning commit starts the link (or restarts it on new settings) and the
 * advertising without a reboot; a factory reset closes the link while the identity can still
 * sign its OFFLINE presence, and stops the advertising once the module is unprovisioned.
 */
import type { HciBindingsOptions } from '@stoprocent/bleno';
import { ProvisioningState } from '@mini-sharing/shared-protocol/messages';
import { startCloudLink, type CloudLink, type CloudLinkOptions } from '../cloud-link/index.js';
import type { ModuleConfig } from '../config.js';
import type { ModuleHal } from '../hal/index.js';
import { startKeylessAccess, type KeylessAccess } from '../keyless/index.js';
import type { RecordStore } from '../storage/index.js';
import type { LogLevelName } from '../service/module-log.js';
import type { FirmwareStores } from './firmware-service.js';
import { AccessReportHold, accessCommandTarget, faultReports } from './cloud-access.js';

/** The UART driver's rate (a pty ignores it; a real controller's UART runs at it). */
const HCI_UART_BAUD = 1_000_000;

export type SharingLog = (level: LogLevelName, component: string, message: string) => void;

export interface SharingDeps {
  config: Pick<ModuleConfig, 'moduleSerial' | 'blePort'>;
  records: RecordStore;
  hal: Pick<ModuleHal, 'vehicle' | 'gnss' | 'supply' | 'clock'>;
  stores: Pick<FirmwareStores, 'identity' | 'faults'>;
  log: SharingLog;
  firmwareVersion: string;
  /** The BLE stack's bindings; default the HCI UART on `config.blePort` (none without one). */
  ble?: { bindings: HciBindingsOptions } | false;
  linkOptions?: CloudLinkOptions;
}

export interface Sharing {
  keyless: KeylessAccess;
  /** The running cloud link; undefined while unprovisioned (or when it could not start). */
  readonly link: CloudLink | undefined;
  /** After a provisioning commit: advertise, and (re)start the link on the stored settings. */
  provisioningChanged(): Promise<void>;
  /** Before a factory reset wipes anything: the link says OFFLINE and closes. */
  beforeFactoryReset(): Promise<void>;
  /** After the wipe: advertising stops (the module is unprovisioned). */
  afterFactoryReset(): Promise<void>;
  /** Graceful stop: the link says OFFLINE, the key link and the controller stop. */
  close(): Promise<void>;
}

export async function startSharing(deps: SharingDeps): Promise<Sharing> {
  const { config, hal, stores, log } = deps;
  const { identity } = stores;
  const reports = new AccessReportHold(() => hal.clock.now());
  const ble =
    deps.ble ??
    (config.blePort
      ? {
          bindings: {
            hciDriver: 'uart',
            bindParams: { uart: { port: config.blePort, baudRate: HCI_UART_BAUD } },
          } satisfies HciBindingsOptions,
        }
      : false);
  const keyless = await startKeylessAccess({
    moduleSerial: config.moduleSerial,
    identity,
    records: deps.records,
    hal: { vehicle: hal.vehicle, clock: hal.clock },
    log,
    ble,
    onEvent: reports.take,
  });
  const target = accessCommandTarget(keyless.controller, reports);
  if (keyless.bleReady) {
    log(
      'info',
      'key-link',
      `key service on ${config.blePort ?? 'Bluetooth'}; advertising while provisioned`,
    );
  }

  let link: CloudLink | undefined;
  let closed = false;
  // Link changes one at a time (a commit during start-up, a reset right after a commit).
  let changing: Promise<void> = Promise.resolve();
  const serialized = (change: () => Promise<void>) => {
    const next = changing.then(change, change);
    changing = next.catch(() => undefined);
    return next;
  };

  const stopLink = async () => {
    const running = link;
    link = undefined;
    await running?.close();
  };
  const startLink = async () => {
    if (closed || identity.state !== ProvisioningState.PROVISIONED) return;
    try {
      link = await startCloudLink({
        moduleSerial: config.moduleSerial,
        identity,
        records: deps.records,
        hal,
        clock: hal.clock,
        access: target,
        faults: faultReports(stores.faults),
        log,
        firmwareVersion: deps.firmwareVersion,
        ...(deps.linkOptions ? { options: deps.linkOptions } : {}),
      });
      if (reports.dropped > 0) {
        log('warn', 'cloud-link', `${reports.dropped} access events were dropped before the link`);
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log('error', 'cloud-link', `not started: ${reason}`);
    }
  };

  await serialized(startLink);

  return {
    keyless,
    get link() {
      return link;
    },
    provisioningChanged: () =>
      serialized(async () => {
        await stopLink();
        await keyless.provisioningChanged();
        await startLink();
      }),
    beforeFactoryReset: () => serialized(stopLink),
    afterFactoryReset: () => serialized(() => keyless.provisioningChanged()),
    close: () =>
      serialized(async () => {
        closed = true;
        await stopLink();
        await keyless.close();
      }),
  };
}
