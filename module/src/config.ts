/**
 * What the platform tells the boot loader and the firmware at start-up (on real hardware: the
 * factory data and the board's device paths; in the simulated world: module-sim). Passed as JSON
 * in the environment variable MINI_MODULE_CONFIG and validated here, at the edge.
 */
import { isAbsolute } from 'node:path';
import { validateModuleSerial } from '@mini-sharing/shared-protocol/vehicle';

export interface ModuleConfig {
  moduleSerial: string;
  hardwareRevision: string;
  /** Folder standing in for the module's flash. */
  storageDir: string;
  /** The module's end of the USB serial line. */
  serialPort: string;
  /** The vehicle bus socket (simulated 5GE interface, GNSS, RTC). */
  vehicleBus: string;
  /**
   * The Bluetooth controller's HCI UART (in the simulated world: a virtual air controller's pty).
   * Absent: the module has no Bluetooth radio and serves no key link.
   */
  blePort?: string;
}

export const CONFIG_ENV = 'MINI_MODULE_CONFIG';

export function readModuleConfig(text = process.env[CONFIG_ENV]): ModuleConfig {
  if (!text) throw new Error(`${CONFIG_ENV} is not set: start the module through module-sim`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${CONFIG_ENV} is not JSON`);
  }
  const config = value as Record<string, unknown>;
  for (const key of [
    'moduleSerial',
    'hardwareRevision',
    'storageDir',
    'serialPort',
    'vehicleBus',
  ]) {
    if (typeof config[key] !== 'string' || config[key] === '') {
      throw new Error(`${CONFIG_ENV}.${key} must be a non-empty string`);
    }
  }
  const serial = validateModuleSerial(config.moduleSerial as string);
  if (!serial.ok) throw new Error(`${CONFIG_ENV}.moduleSerial: ${serial.message}`);
  const blePort = config.blePort;
  if (blePort !== undefined && (typeof blePort !== 'string' || !isAbsolute(blePort))) {
    throw new Error(`${CONFIG_ENV}.blePort must be an absolute device path when set`);
  }
  // Only the known keys: the boot loader hands this object on to the firmware as it is.
  return {
    moduleSerial: config.moduleSerial as string,
    hardwareRevision: config.hardwareRevision as string,
    storageDir: config.storageDir as string,
    serialPort: config.serialPort as string,
    vehicleBus: config.vehicleBus as string,
    ...(blePort === undefined ? {} : { blePort }),
  };
}
