/**
 * The application firmware's entry point. The boot loader starts it with the slot it came from;
 * it checks itself, confirms a trial image, and serves the service link until it is told to
 * reboot (exit code REBOOT_EXIT_CODE) or stopped.
 */
import { readModuleConfig } from '../config.js';
import { openSimHal } from '../hal/sim/index.js';
import { openModuleStorage } from '../storage/index.js';
import { confirmRunningImage } from '../service/flash-service.js';
import { serveServicePort } from '../service/service-endpoint.js';
import type { LogLevelName, ModuleLog } from '../service/module-log.js';
import { pinnedCloudRootKey, pinnedReleaseKeys } from '../boot/pinned-keys.js';
import { REBOOT_EXIT_CODE, RUNNING_SLOT_ENV, TRIAL_ENV } from '../boot/process-contract.js';
import { createFirmwareHandlers, openFirmwareStores } from './firmware-service.js';
import { startSharing, type Sharing } from './sharing.js';

declare global {
  var __FIRMWARE_VERSION__: string | undefined;
}

/** Baked in by build/src/build-firmware.ts; "0.0.0-dev" when run from source. */
export const FIRMWARE_VERSION = globalThis.__FIRMWARE_VERSION__ ?? '0.0.0-dev';

async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = readModuleConfig();
  const runningSlot = process.env[RUNNING_SLOT_ENV] === 'B' ? 'B' : 'A';
  // Every line goes to stdout (the platform's console) and, once it is open, the module log the
  // service link reads (log_read).
  let moduleLog: ModuleLog | undefined = undefined;
  const logLine = (level: LogLevelName, component: string, message: string) => {
    console.log(
      JSON.stringify({
        time: new Date().toISOString(),
        component,
        version: FIRMWARE_VERSION,
        level,
        message,
      }),
    );
    moduleLog?.append(level, component, message);
  };
  const log = (message: string, level: LogLevelName = 'info') =>
    logLine(level, 'firmware', message);

  const storage = await openModuleStorage(config.storageDir);
  const hal = await openSimHal({ socketPath: config.vehicleBus });

  // Start-up self-check: storage answers and the vehicle bus is reachable (the supply reading
  // comes over it whether or not the car has a 5GE sharing interface), and the firmware's records
  // open. Only then does a trial image confirm itself; a crash before this point makes the boot
  // loader revert.
  await storage.records.list();
  await hal.supply.readMillivolts();
  const stores = await openFirmwareStores(storage.records, {
    rootPublicKey: pinnedCloudRootKey(),
    now: () => hal.clock.now(),
  });
  moduleLog = stores.log;
  log(`firmware ${FIRMWARE_VERSION} starting from slot ${runningSlot}`);
  if (process.env[TRIAL_ENV] === '1') {
    await confirmRunningImage({ storage }, runningSlot);
    log(`trial image in slot ${runningSlot} confirmed itself`);
  }

  if (!config.blePort) log('no Bluetooth controller configured: no key link on this module');

  // Sharing (keyless access, the cloud link) starts once the service port is up: the workshop
  // must reach the module even while a Bluetooth controller takes its time to power on.
  let sharingReady: { resolve(sharing: Sharing): void; reject(error: unknown): void } | undefined;
  const sharingStarted = new Promise<Sharing>((resolve, reject) => {
    sharingReady = { resolve, reject };
  });
  sharingStarted.catch(() => {}); // reported where it is awaited
  const withSharing = async (what: string, work: (sharing: Sharing) => Promise<void>) => {
    try {
      await work(await sharingStarted);
    } catch (error) {
      log(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  };

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log(code === REBOOT_EXIT_CODE ? 'restarting' : 'stopping');
    await endpoint.close().catch(() => {});
    // The cloud link says OFFLINE (retained) before the module goes; bounded, as a stop must end.
    await withTimeout(
      withSharing('stopping sharing', (sharing) => sharing.close()),
      SHARING_STOP_TIMEOUT_MS,
    );
    await stores.log.close();
    await hal.close().catch(() => {});
    await storage.close().catch(() => {});
    process.exit(code);
  };

  const firmware = createFirmwareHandlers({
    config,
    storage,
    hal,
    stores,
    firmwareVersion: FIRMWARE_VERSION,
    runningSlot,
    startedAt,
    pinnedReleaseKeys: pinnedReleaseKeys(),
    reboot: () => void stop(REBOOT_EXIT_CODE),
    sharing: {
      provisioningCommitted: () =>
        void withSharing('starting sharing after provisioning', (sharing) =>
          sharing.provisioningChanged(),
        ),
      beforeFactoryReset: () =>
        withSharing('closing the cloud link', (s) => s.beforeFactoryReset()),
      afterFactoryReset: () => withSharing('stopping advertising', (s) => s.afterFactoryReset()),
    },
  });
  const endpoint = await serveServicePort(config.serialPort, firmware.handlers, () =>
    firmware.newConnection(),
  );
  log(`serving ${config.serialPort}`);
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  try {
    sharingReady?.resolve(
      await startSharing({
        config,
        records: storage.records,
        hal,
        stores,
        log: logLine,
        firmwareVersion: FIRMWARE_VERSION,
      }),
    );
  } catch (error) {
    // Without keyless access the module still serves the workshop (and can be reflashed).
    sharingReady?.reject(error);
    log(
      `sharing did not start: ${error instanceof Error ? error.message : String(error)}`,
      'error',
    );
  }
}

/** How long a stop waits for the cloud link's OFFLINE and the key link to close. */
const SHARING_STOP_TIMEOUT_MS = 3_000;

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    work,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ component: 'firmware', level: 'fatal', message: String(error) }));
  process.exit(1);
});
