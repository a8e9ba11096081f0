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
  const log = (message: string, level: LogLevelName = 'info') => {
    console.log(
      JSON.stringify({
        time: new Date().toISOString(),
        component: 'firmware',
        version: FIRMWARE_VERSION,
        level,
        message,
      }),
    );
    moduleLog?.append(level, 'firmware', message);
  };

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

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log(code === REBOOT_EXIT_CODE ? 'restarting' : 'stopping');
    await endpoint.close().catch(() => {});
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
  });
  const endpoint = await serveServicePort(config.serialPort, firmware.handlers, () =>
    firmware.newConnection(),
  );
  log(`serving ${config.serialPort}`);
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ component: 'firmware', level: 'fatal', message: String(error) }));
  process.exit(1);
});
