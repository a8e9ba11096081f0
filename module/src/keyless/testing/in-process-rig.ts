/**
 * Keyless access in one process without BLE: the real AccessController and KeyLinkSession on a
 * simulated flash, an in-process car and a manual module clock, with phones talking through
 * in-process transports. What the policy tests, the fuzzing and the benchmark's baseline use.
 */
import type { Signer } from '@mini-sharing/shared-protocol/crypto';
import type { AccessEvent, KeylessLog } from '../access-events.js';
import { AccessController } from '../access-controller.js';
import { AccessStateStore } from '../access-state.js';
import { KeyLinkSession } from '../key-link-session.js';
import { RecordStore, type FileOps } from '../../storage/index.js';
import { SimulatedFlash } from '../../storage/testing/index.js';
import { FakeVehicle } from './fake-vehicle.js';
import { TEST_NOW_MS, type KeylessFixtures } from './fixtures.js';
import { KeyLinkClient, inProcessTransport, type PhoneCounters } from './key-link-client.js';
import { ManualModuleClock } from './manual-module-clock.js';

export const RIG_RECORDS_DIR = '/flash/records';

export interface InProcessRig {
  f: KeylessFixtures;
  flash: SimulatedFlash;
  records: RecordStore;
  vehicle: FakeVehicle;
  clock: ManualModuleClock;
  controller: AccessController;
  events: AccessEvent[];
  /** Every log line as `level component: message`. */
  logs: string[];
  log: KeylessLog;
  /** A new connection: a session and a phone client on it. */
  connect(
    device?: Signer,
    options?: { challengeValidForMs?: number },
  ): {
    session: KeyLinkSession;
    phone: KeyLinkClient;
  };
  /** Powers the module off and on: a new controller on what the flash kept. */
  reopen(options?: { powerCut?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startInProcessRig(
  f: KeylessFixtures,
  options: { startMs?: number; flash?: SimulatedFlash } = {},
): Promise<InProcessRig> {
  const logs: string[] = [];
  const log: KeylessLog = (level, component, message) =>
    logs.push(`${level} ${component}: ${message}`);
  const vehicle = new FakeVehicle();
  const clock = new ManualModuleClock(options.startMs ?? TEST_NOW_MS);
  const counters: PhoneCounters = new Map();
  const open = async (fileOps: FileOps) => {
    const records = await RecordStore.open(RIG_RECORDS_DIR, { fileOps });
    const controller = await AccessController.open({
      moduleSerial: f.moduleSerial,
      keyRing: () => f.keyRing,
      vehicle,
      clock,
      store: new AccessStateStore(records),
      log,
    });
    const events: AccessEvent[] = [];
    controller.onEvent((event) => events.push(event));
    return { records, controller, events };
  };
  const flash = options.flash ?? new SimulatedFlash();
  const rig: InProcessRig = {
    f,
    flash,
    vehicle,
    clock,
    logs,
    log,
    ...(await open(flash)),
    connect: (device = f.phone, connection = {}) => {
      const session = new KeyLinkSession({
        access: rig.controller,
        clock,
        log,
        ...connection,
      });
      return { session, phone: new KeyLinkClient(inProcessTransport(session), device, counters) };
    },
    reopen: async ({ powerCut = true } = {}) => {
      await rig.controller.close();
      if (powerCut) rig.flash = rig.flash.powerCut({ kind: 'synced-only' });
      Object.assign(rig, await open(rig.flash));
    },
    close: () => rig.controller.close(),
  };
  return rig;
}
