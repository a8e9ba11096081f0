/**
 * `npm start`: the simulated workshop. Starts every part that exists so far and says what it
 * started; Ctrl-C stops everything.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualSerialLine } from '@mini-sharing/module/sim';

// The workshop app's device list scans .sim/ports (SerialPort.list() does not list ptys); the
// module's end lives apart so it never shows up there.
const portsDir = join(process.cwd(), '.sim', 'ports');
const moduleDir = join(process.cwd(), '.sim', 'module');
mkdirSync(portsDir, { recursive: true });
mkdirSync(moduleDir, { recursive: true });

const line = await VirtualSerialLine.open({ dir: portsDir, moduleDir, name: 'module-1' });
console.log('Simulated workshop');
console.log(`  virtual serial line  app end:    ${line.appPath}`);
console.log(`                       module end: ${line.modulePath}`);
console.log('  not yet part of the workshop: module firmware (issues #5, #6), cloud (#8),');
console.log('  workshop app (later issue). Open the app end with any serial tool meanwhile.');
console.log('Press Ctrl-C to stop.');

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the simulated workshop`);
  await line.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
