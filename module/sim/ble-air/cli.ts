// Runs a virtual BLE air until SIGINT/SIGTERM:
//   npx tsx module/sim/ble-air/cli.ts [--controllers 2] [--dir .sim/ble] [--name ble]
//     [--time-scale 1] [--seed 1] [--trace .sim/ble-trace] [--demo]
// Point noble or bleno at a printed port with
//   withBindings('hci', { hciDriver: 'uart', bindParams: { uart: { port } } })
// or BLUETOOTH_HCI_SOCKET_UART_PORT=<port>. With --demo, a bleno peripheral runs on the first
// port and a noble central on the second finds it, reads, writes, gets a notification and
// disconnects; then the air closes.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TSX_LOADER } from './hosts/host-process.js';
import { VirtualAir } from './virtual-air.js';

const { values } = parseArgs({
  options: {
    controllers: { type: 'string' },
    dir: { type: 'string' },
    name: { type: 'string' },
    'time-scale': { type: 'string' },
    seed: { type: 'string' },
    trace: { type: 'string' },
    demo: { type: 'boolean' },
  },
});

function numberOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got ${text}`);
  return value;
}

const air = await VirtualAir.start({
  controllers: numberOption('controllers', values.controllers) ?? 2,
  dir: values.dir,
  name: values.name,
  timeScale: numberOption('time-scale', values['time-scale']),
  seed: numberOption('seed', values.seed),
  trace: values.trace,
});
for (const [index, port] of air.ports.entries()) {
  console.log(`controller ${index}: ${port}  (address ${air.addresses[index]})`);
}
if (values.trace) console.log(`btsnoop traces in ${values.trace} (open with Wireshark)`);
air.on('failure', (reason) => console.error(`air failed: ${reason}`));

// Demo hosts, ended with the air (they have no IPC channel to notice on their own).
const hosts: ChildProcess[] = [];
process.once('exit', () => {
  for (const host of hosts) host.kill('SIGKILL');
});

let stopping = false;
async function stop(reason: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${reason}: closing the air`);
  for (const host of hosts) host.kill('SIGTERM');
  await air.close();
  process.exit(code);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

if (values.demo) {
  if (air.ports.length < 2) throw new Error('--demo needs at least 2 controllers');
  const scripts = join(dirname(fileURLToPath(import.meta.url)), 'hosts');
  const run = (script: string, port: string) =>
    spawn(process.execPath, ['--import', TSX_LOADER, join(scripts, script), '--port', port], {
      stdio: 'inherit',
    });
  const peripheral = run('peripheral-process.ts', air.port(0));
  const central = run('central-process.ts', air.port(1));
  hosts.push(peripheral, central);
  central.once('exit', (code) => {
    peripheral.kill('SIGTERM');
    peripheral.once('exit', () => void stop('demo finished', code ?? 1));
  });
}
