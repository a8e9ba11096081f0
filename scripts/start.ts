/**
 * `npm start`: the simulated workshop. Starts every part that exists so far and says what it
 * started; Ctrl-C stops everything. Today: the example fleet's cars with their modules (booted
 * from signed firmware images) on virtual serial lines, each module serving the key link on one
 * virtual BLE air that also has controllers for phones (their paths are printed). The cloud (#8)
 * and the workshop app join as their issues land.
 */
import { join } from 'node:path';
import { describeFleet, startFleet } from '@mini-sharing/module/sim';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { writeFirmwareReleases } from '../build/src/build-firmware.js';

const simDir = join(process.cwd(), '.sim');
// The workshop app's device list scans .sim/ports (SerialPort.list() does not list ptys).
const portsDir = join(simDir, 'ports');
const firmwareDir = join(simDir, 'firmware');
console.log('Simulated workshop: building and signing firmware images (development release key)…');
const { images, factoryVersion } = await writeFirmwareReleases(firmwareDir);
const fleet = await startFleet({
  fleet: exampleFleet(),
  dir: join(simDir, 'cars'),
  portsDir,
  output: 'ignore',
  factoryImage: async () => images.get(factoryVersion)!,
});
console.log(
  describeFleet(fleet, { portsDir, firmwareDir, factoryVersion }).replace(
    'Type "help" for commands.',
    '',
  ),
);
console.log('Not yet part of the simulated workshop: the cloud (issue #8) and the workshop app.');
console.log(
  'To act on the cars (drive, doors, battery…), run module-sim instead: npm run module-sim',
);
console.log('Press Ctrl-C to stop.');

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the simulated workshop`);
  await fleet.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
