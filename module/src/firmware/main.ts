/**
 * The application firmware's entry point. The boot loader starts it with the slot it came from;
 * it checks itself, confirms a trial image, and serves the service link until it is told to
 * reboot (exit code REBOOT_EXIT_CODE) or stopped.
 */
import { readModuleConfig } from '../config.js';
import { openSimHal } from '../hal/sim/index.js';
import { openModuleStorage } from '../storage/index.js';
import { confirmRunningImage, createFlashService } from '../service/flash-service.js';
import { serveServicePort } from '../service/service-endpoint.js';
import { pinnedCloudRootKey, pinnedReleaseKeys } from '../boot/pinned-keys.js';
import { IdentityStore } from '../service/identity.js';
import { createProvisioningService } from '../service/provisioning.js';
import { AuthorizationGuard } from '../service/authorization.js';
import { createDeviceService } from './device-service.js';
import { REBOOT_EXIT_CODE, RUNNING_SLOT_ENV, TRIAL_ENV } from '../boot/process-contract.js';

declare global {
  var __FIRMWARE_VERSION__: string | undefined;
}

/** Baked in by build/src/build-firmware.ts; "0.0.0-dev" when run from source. */
export const FIRMWARE_VERSION = globalThis.__FIRMWARE_VERSION__ ?? '0.0.0-dev';

async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = readModuleConfig();
  const runningSlot = process.env[RUNNING_SLOT_ENV] === 'B' ? 'B' : 'A';
  const log = (message: string) =>
    console.log(
      JSON.stringify({
        time: new Date().toISOString(),
        component: 'firmware',
        version: FIRMWARE_VERSION,
        message,
      }),
    );

  const storage = await openModuleStorage(config.storageDir);
  const hal = await openSimHal({ socketPath: config.vehicleBus });

  // Start-up self-check: storage answers and the vehicle bus is reachable (the supply reading
  // comes over it whether or not the car has a 5GE sharing interface). Only then does a trial
  // image confirm itself; a crash before this point makes the boot loader revert.
  await storage.records.list();
  await hal.supply.readMillivolts();
  if (process.env[TRIAL_ENV] === '1') {
    await confirmRunningImage({ storage }, runningSlot);
    log(`trial image in slot ${runningSlot} confirmed itself`);
  }

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await endpoint.close().catch(() => {});
    await hal.close().catch(() => {});
    await storage.close().catch(() => {});
    process.exit(code);
  };

  const identity = await IdentityStore.open(storage.records, pinnedCloudRootKey());
  const authorization = new AuthorizationGuard({
    identity,
    moduleSerial: config.moduleSerial,
    clock: hal.clock,
  });
  const endpoint = await serveServicePort(
    config.serialPort,
    {
      ...createDeviceService({
        config,
        hal,
        firmwareVersion: FIRMWARE_VERSION,
        runningSlot,
        startedAt,
        identity,
      }),
      ...authorization.handlers,
      // State-changing requests on a provisioned module need a service authorization.
      ...authorization.guard({
        ...createFlashService({
          storage,
          hardwareRevision: config.hardwareRevision,
          pinnedKeys: pinnedReleaseKeys(),
          runningSlot,
          readSupplyMillivolts: () => hal.supply.readMillivolts(),
          reboot: () => void stop(REBOOT_EXIT_CODE),
        }),
        ...createProvisioningService({
          identity,
          moduleSerial: config.moduleSerial,
          vehicle: hal.vehicle,
        }),
      }),
    },
    () => authorization.newConnection(),
  );
  log(
    `firmware ${FIRMWARE_VERSION} running from slot ${runningSlot}, serving ${config.serialPort}`,
  );
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ component: 'firmware', level: 'fatal', message: String(error) }));
  process.exit(1);
});
