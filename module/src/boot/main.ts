/**
 * The boot loader process (module-sim starts one per simulated module; on real hardware it is
 * the first program the board runs). Reads MINI_MODULE_CONFIG; platform modules from
 * MINI_PLATFORM_MODULES (default: this checkout's node_modules).
 */
import { join } from 'node:path';
import { readModuleConfig } from '../config.js';
import { openSimHal } from '../hal/sim/index.js';
import { runBootLoader } from './boot-loader.js';

const config = readModuleConfig();
const log = (message: string) =>
  console.log(
    JSON.stringify({
      time: new Date().toISOString(),
      component: 'boot',
      module: config.moduleSerial,
      message,
    }),
  );
const platformModules =
  process.env.MINI_PLATFORM_MODULES ?? join(import.meta.dirname, '..', '..', '..', 'node_modules');

const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
process.on('SIGINT', () => controller.abort());

const hal = await openSimHal({ socketPath: config.vehicleBus });
await runBootLoader(
  {
    config,
    platformModules,
    log,
    readSupplyMillivolts: () => hal.supply.readMillivolts(),
    clock: hal.clock,
  },
  controller.signal,
);
await hal.close();
