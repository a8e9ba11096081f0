// Benchmark of the virtual BLE air in real time (timeScale 1), with the real noble here and the
// real bleno in its own process. Prints one `name value` line per figure, the headline last:
//   ble-connection-interval-ms  interval the link ran at (noble asks 7.5-22.5 ms)
//   ble-connect-ms              scan start to connected, median, noble's default parameters
//   ble-roundtrip-ms            write with response, then the notification it causes, median
//   ble-roundtrip-events        connection events that round trip takes, median (goal 2)
import type { Characteristic, Noble } from '@stoprocent/noble';
import { withBindings } from '@stoprocent/noble';
import {
  BleHostProcess,
  demoCharacteristic,
  findByName,
  VirtualAir,
  writeAndAwaitNotification,
} from '../sim/index.js';

const CONNECTS = 9;
const ROUND_TRIPS = 25;
const NAME = 'MINI-BENCH';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function measureConnects(noble: Noble, peripheral: BleHostProcess): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < CONNECTS; round++) {
    const started = performance.now();
    const target = await findByName(noble, NAME);
    await target.connectAsync();
    times.push(performance.now() - started);
    const disconnects = peripheral.events.filter((event) => event.event === 'disconnect').length;
    await target.disconnectAsync();
    // bleno advertises again once its host has heard of the disconnection.
    await peripheral.waitFor(
      'disconnect',
      5_000,
      () => peripheral.events.filter((event) => event.event === 'disconnect').length > disconnects,
    );
  }
  return times;
}

async function measureRoundTrips(air: VirtualAir, characteristic: Characteristic) {
  const events: number[] = [];
  const times: number[] = [];
  const counter = () => air.connections()[0]!.eventCounter;
  await characteristic.subscribeAsync();
  for (let round = 0; round < ROUND_TRIPS; round++) {
    // Start at a random point between events, as an application would.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 25));
    const [before, started] = [counter(), performance.now()];
    await writeAndAwaitNotification(characteristic, Buffer.of(round));
    times.push(performance.now() - started);
    events.push(counter() - before);
  }
  return { events, times };
}

const air = await VirtualAir.start({ controllers: 2, timeScale: 1 });
const peripheral = await BleHostProcess.start('peripheral', [
  '--port',
  air.port(0),
  '--name',
  NAME,
]);
const noble = withBindings('hci', air.bindings(1));
try {
  const connects = await measureConnects(noble, peripheral);
  const target = await findByName(noble, NAME);
  await target.connectAsync();
  const interval = air.connections()[0]!.intervalMs;
  const { events, times } = await measureRoundTrips(air, await demoCharacteristic(target));
  await target.disconnectAsync();
  console.log(`ble-connection-interval-ms ${interval}`);
  console.log(`ble-connect-ms ${Math.round(median(connects))}`);
  console.log(`ble-roundtrip-ms ${median(times).toFixed(1)}`);
  console.log(`ble-roundtrip-events ${median(events)}`);
} finally {
  noble.stop();
  await peripheral.kill();
  await air.close();
}
// bleno's and noble's device polls keep timers running; the figures are out, so end here.
process.exit(0);
