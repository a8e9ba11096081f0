// Benchmark of keyless access: a phone unlocking the car over the key link, in real time
// (virtual air at timeScale 1, noble's default connection parameters: a 22.5 ms interval). The
// module (keyless access on the real bleno, its records on disk, the simulated car through the
// firmware's sim HAL) and the phone (real noble) share this process. Prints one `name value` line
// per figure:
//   keyless-unlock-processing-ms  the same unlock without the radio (an in-process session on the
//                                 same module): verification, durable counter, actuation; median
//   ble-unlock-events             connection events from key presentation to lock actuation, median
//   ble-unlock-ms                 the same in ms, median of 20
// The floor for ble-unlock-events is 3: the token goes out at the next event, the challenge comes
// back at the one after, the signed command goes at the next, and the car moves on its arrival.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recognitionMaterialFor } from '@mini-sharing/shared-protocol/gatt';
import { CommandKind, HolderRole } from '@mini-sharing/shared-protocol/trust';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { VirtualAir, startSimulatedCar } from '../sim/index.js';
import { openSimHal } from '../src/hal/sim/index.js';
import { startKeylessAccess, KeyLinkSession } from '../src/keyless/index.js';
import {
  HOUR_MS,
  KeyLinkClient,
  TEST_NOW_MS,
  TestPhone,
  inProcessTransport,
  issueTestKey,
  keylessFixtures,
  provisionTestIdentity,
} from '../src/keyless/testing/index.js';
import { RecordStore } from '../src/storage/index.js';

const ROUNDS = 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const f = await keylessFixtures();
const dir = await mkdtemp(join(tmpdir(), 'keyless-bench-'));
const air = await VirtualAir.start({ controllers: 2, timeScale: 1 });
const car = await startSimulatedCar({
  fleetVehicle: exampleFleet().vehicles[0]!,
  socketPath: join(dir, 'bus.sock'),
  clock: { startMs: TEST_NOW_MS, timeScale: 1 },
});
const hal = await openSimHal({ socketPath: car.socketPath });
const records = await RecordStore.open(join(dir, 'records'));
const keyless = await startKeylessAccess({
  moduleSerial: f.moduleSerial,
  identity: await provisionTestIdentity(records, f),
  records,
  hal: { vehicle: hal.vehicle, clock: hal.clock },
  log: () => {},
  ble: { bindings: air.bindings(0) },
});
const phone = new TestPhone(air.bindings(1), f.phone);
const owner = await issueTestKey(f, { role: HolderRole.OWNER });

/** Resolves at the car's next lock actuation, with the time it happened. */
const nextLockChange = () =>
  new Promise<number>((resolve) => car.vehicle.once('lock', () => resolve(performance.now())));

try {
  // Without the radio: the same module, an in-process session.
  const processing: number[] = [];
  const local = new KeyLinkClient(
    inProcessTransport(
      new KeyLinkSession({ access: keyless.controller, clock: hal.clock, log: () => {} }),
    ),
    f.phone,
    phone.counters,
  );
  for (let round = 0; round < ROUNDS; round++) {
    const actuated = nextLockChange();
    const started = performance.now();
    await local.presentKey(owner.token);
    await local.command(CommandKind.UNLOCK);
    processing.push((await actuated) - started);
    await local.command(CommandKind.LOCK);
  }

  const material = recognitionMaterialFor(
    f.advertisingSecret,
    TEST_NOW_MS - HOUR_MS,
    TEST_NOW_MS + 24 * HOUR_MS,
  );
  const found = await phone.findCar(material, () => car.clock.now());
  const connection = await phone.connect(found.peripheral);
  const counter = () => air.connections()[0]!.eventCounter;
  const events: number[] = [];
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Start at a random point between connection events, as a phone's app would.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 25));
    const actuated = nextLockChange();
    const [before, started] = [counter(), performance.now()];
    await connection.client.presentKey(owner.token);
    const unlocking = connection.client.command(CommandKind.UNLOCK);
    const at = await actuated;
    events.push(counter() - before);
    times.push(at - started);
    await unlocking;
    await connection.client.command(CommandKind.LOCK);
  }
  await connection.disconnect();
  console.log(`keyless-unlock-processing-ms ${median(processing).toFixed(1)}`);
  console.log(`ble-unlock-events ${median(events)}`);
  console.log(`ble-unlock-ms ${median(times).toFixed(1)}`);
} finally {
  phone.stop();
  await keyless.close();
  await hal.close();
  await car.close();
  await air.close();
  await rm(dir, { recursive: true, force: true });
}
// bleno's and noble's device polls keep timers running; the figures are out, so end here.
process.exit(0);
