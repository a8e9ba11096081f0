// The demo peripheral (a real bleno) on one controller of the air:
//   npx tsx module/sim/ble-air/hosts/peripheral-process.ts --port <path> [--name MINI-42]
// Prints what centrals do; HostProcess runs it with an IPC channel instead.
import { withBindings } from '@stoprocent/bleno';
import { serveDemo } from './demo-peripheral.js';
import { report, serveRequests, stringOption } from './host-protocol.js';

const args = process.argv.slice(2);
const port = stringOption(args, 'port');
if (!port) {
  console.error('usage: peripheral-process.ts --port <pty path> [--name MINI-42]');
  process.exit(2);
}
const name = stringOption(args, 'name') ?? 'MINI-42';
const bleno = withBindings('hci', {
  hciDriver: 'uart',
  bindParams: { uart: { port, baudRate: 1_000_000 } },
});
serveRequests({}, () => bleno.stop());
await serveDemo(bleno, { name }, (kind, detail) => report(kind, { ...detail }));
report('ready', { address: bleno.address, name });
