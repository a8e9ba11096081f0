/**
 * module-sim: starts simulated cars with their modules and lets you act on them.
 *
 *   npx tsx module/sim/cli.ts [--fleet fleet.json] [--dir .sim] [--ports .sim/ports] [--time-scale 1]
 *                             [--phones 2] [--no-ble]
 *
 * Without --fleet it uses shared-protocol's example fleet. Blank modules are programmed with the
 * previous firmware release (so an update to the current one can be tried); both signed images
 * are written to <dir>/firmware. The modules share one virtual BLE air (--phones N spare
 * controllers for phones, default 2; their paths are printed; --no-ble for none). Commands on
 * standard input: `help` lists them.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  exampleFleet,
  formatFleetFileError,
  parseFleetFile,
} from '@mini-sharing/shared-protocol/vehicle';
import { writeFirmwareReleases } from '../../build/src/build-firmware.js';
import { describeFleet, runCommand } from './module/commands.js';
import { startFleet } from './module/fleet-runner.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

function loadFleet() {
  const path = option('fleet', '');
  if (!path) return exampleFleet();
  const parsed = parseFleetFile(readFileSync(path, 'utf8'));
  if (!parsed.ok) {
    console.error(`${path} is not a valid fleet file:`);
    for (const error of parsed.errors) console.error(`  ${formatFleetFileError(error)}`);
    process.exit(2);
  }
  return parsed.fleet;
}

const dir = resolve(option('dir', '.sim'));
const portsDir = resolve(option('ports', join(dir, 'ports')));
const firmwareDir = join(dir, 'firmware');
console.log('module-sim: building and signing the firmware images (development release key)…');
const { images, factoryVersion } = await writeFirmwareReleases(firmwareDir);
const fleet = await startFleet({
  fleet: loadFleet(),
  dir,
  portsDir,
  timeScale: Number(option('time-scale', '1')),
  factoryImage: async () => images.get(factoryVersion)!,
  ble: process.argv.includes('--no-ble') ? false : { phones: Number(option('phones', '2')) },
});
console.log(describeFleet(fleet, { portsDir, firmwareDir, factoryVersion }));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  console.log('module-sim: stopping the cars and their modules');
  await fleet.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

const input = createInterface({ input: process.stdin, terminal: false });
input.on('line', (line) => {
  const reply = runCommand(fleet, line);
  if (reply === 'quit') void stop();
  else if (reply) console.log(reply);
});
input.on('close', () => {
  if (!process.stdin.isTTY) return; // piped input ended: keep running until a signal
  void stop();
});
