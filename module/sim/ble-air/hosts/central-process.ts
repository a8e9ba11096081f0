// The demo central (a real noble) on one controller of the air:
//   npx tsx module/sim/ble-air/hosts/central-process.ts --port <path> [--name MINI-42]
// On a terminal it finds the peripheral, connects, reads, writes, prints the notification and
// disconnects. Under HostProcess it waits for requests instead.
import type { Characteristic, Peripheral } from '@stoprocent/noble';
import { withBindings } from '@stoprocent/noble';
import { demoCharacteristic, findByName, writeAndAwaitNotification } from './demo-central.js';
import { report, serveRequests, stringOption } from './host-protocol.js';

const args = process.argv.slice(2);
const port = stringOption(args, 'port');
if (!port) {
  console.error('usage: central-process.ts --port <pty path> [--name MINI-42]');
  process.exit(2);
}
const noble = withBindings('hci', {
  hciDriver: 'uart',
  bindParams: { uart: { port, baudRate: 1_000_000 } },
});
let peripheral: Peripheral | undefined;
let characteristic: Characteristic | undefined;

function connected(): Peripheral {
  if (!peripheral) throw new Error('find a peripheral first');
  return peripheral;
}

async function demo(): Promise<Characteristic> {
  characteristic ??= await demoCharacteristic(connected());
  return characteristic;
}

const handlers = {
  find: async ({ name }: Record<string, unknown>) => {
    peripheral = await findByName(noble, String(name));
    return { address: peripheral.address, rssi: peripheral.rssi };
  },
  connect: async () => {
    const target = connected();
    characteristic = undefined;
    await target.connectAsync();
    target.once('disconnect', (reason: unknown) => report('disconnect', { reason }));
    return { state: target.state };
  },
  read: async () => (await (await demo()).readAsync()).toString(),
  exchange: async ({ hex }: Record<string, unknown>) => {
    const target = await demo();
    await target.subscribeAsync();
    const reply = await writeAndAwaitNotification(target, Buffer.from(String(hex), 'hex'));
    return reply.toString('hex');
  },
  disconnect: async () => {
    await connected().disconnectAsync();
    return {};
  },
};

await noble.waitForPoweredOnAsync();
if (process.send) {
  serveRequests(handlers, () => noble.stop());
  report('ready', { address: noble.address });
} else {
  const name = stringOption(args, 'name') ?? 'MINI-42';
  console.log('found', await handlers.find({ name }));
  console.log('connected', await handlers.connect());
  console.log('read', await handlers.read());
  console.log('notified', await handlers.exchange({ hex: '01' }));
  await handlers.disconnect();
  console.log('disconnected');
  noble.stop();
  process.exit(0);
}
