/**
 * `npm start`: the simulated workshop. Starts every part that exists so far and says what it
 * started; Ctrl-C stops everything. Today: the example fleet's cars with their modules (booted
 * from signed firmware images) on virtual serial lines, each module serving the key link on one
 * virtual BLE air that also has controllers for phones (their paths are printed), and the cloud
 * (cloud-stub on its embedded SQLite store, seeded when empty, with the module link's embedded
 * MQTT broker). The workshop app joins with its issue.
 */
import { join } from 'node:path';
import { describeFleet, startFleet } from '@mini-sharing/module/sim';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { writeFirmwareReleases } from '../build/src/build-firmware.js';
import { resolveConfig } from '../cloud-stub/src/config.js';
import { startCloud, type RunningCloud } from '../cloud-stub/src/server.js';

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
// The cloud on its embedded defaults (configuration from CLOUD_STUB_* variables, as `npm start -w
// cloud-stub`). A cloud that cannot start (its port taken) must not take the cars down with it.
let cloud: RunningCloud | undefined;
try {
  cloud = await startCloud(resolveConfig({ log: { level: 'warn' } }), { seedWhenEmpty: true });
  console.log(
    `Cloud: ${cloud.url} (seeded dealers, vehicle orders and firmware; API document at ${cloud.url}/openapi.json).`,
  );
  if (cloud.moduleLink) {
    console.log(
      `Module link: modules connect to ${cloud.moduleLink.moduleBrokerUrl} (MQTT, ${cloud.moduleLink.embeddedBroker ? 'the cloud’s embedded broker' : 'an external broker'}).`,
    );
  }
} catch (error) {
  console.log(
    `Cloud not started: ${error instanceof Error ? error.message : String(error)} (set CLOUD_STUB_PORT or CLOUD_STUB_MQTT_PORT to use other ports).`,
  );
}
console.log('Not yet part of the simulated workshop: the workshop app.');
console.log(
  'To act on the cars (drive, doors, battery…), run module-sim instead: npm run module-sim',
);
console.log('Press Ctrl-C to stop.');

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the simulated workshop`);
  await cloud?.close();
  await fleet.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
