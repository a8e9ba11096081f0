/**
 * For tests that write raw bytes at the module (the fuzzer): the module's service port in-process
 * as firmware/main.ts and serveServicePort assemble it (createFirmwareHandlers, plus the baud rate
 * follower for `baud_change`), on temp-folder storage, against a simulated car on a real vehicle
 * bus socket through the sim HAL, with the test trust fixtures' root pinned and a fake module
 * clock at TEST_NOW_MS (as service-test-kit.ts). Unlike the kit, the host's end of the line is
 * exposed as bytes: `write` puts anything on the line, `onModuleFrame` sees every intact frame
 * the module sends, and `host` is a ServiceSession on the same end for well-formed requests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { randomBytes, type Signer } from '@mini-sharing/shared-protocol/crypto';
import { FrameDecoder, type Frame } from '@mini-sharing/shared-protocol/framing';
import {
  BAUD_RATES,
  BaudRateFollower,
  ServiceSession,
  createChannelPair,
} from '@mini-sharing/shared-protocol/session';
import {
  issueModuleCertificate,
  issueServiceAuthorization,
  proveServiceAuthorization,
  type ServiceAuthorizationFields,
} from '@mini-sharing/shared-protocol/trust';
import type { ProvisionBeginResponse } from '@mini-sharing/shared-protocol/messages';
import {
  TEST_NOW_MS,
  trustFixtures,
  type TrustFixtures,
} from '@mini-sharing/shared-protocol/trust/test-fixtures';
import type { SimulatedCar, SimulatedVehicle } from '../../../sim/index.js';
import type { SimHal } from '../../hal/sim/index.js';
import { openModuleStorage, type ModuleStorage } from '../../storage/index.js';
import {
  createFirmwareHandlers,
  openFirmwareStores,
  type FirmwareStores,
} from '../../firmware/firmware-service.js';
import { ALL_OPERATIONS, moduleLink, startTestCar, type FakeClock } from '../service-test-kit.js';

export interface RawServicePort {
  fx: TrustFixtures;
  dir: string;
  storage: ModuleStorage;
  stores: FirmwareStores;
  simCar: SimulatedCar;
  vehicle: SimulatedVehicle;
  hal: SimHal;
  clock: FakeClock;
  /** Monotonic time the guard uses for challenge expiry. */
  elapsed: { ms: number };
  /** A host session on the line's host end, for well-formed requests. */
  readonly host: ServiceSession;
  /** The module's session on the port. */
  readonly module: ServiceSession;
  /** The rate the module's baud follower is at (no real line: switching only records it). */
  readonly moduleBaudRate: number;
  /** How often the firmware asked to restart (flash_activate, factory reset). */
  reboots: number;
  /** Puts bytes on the line, as a host (or line noise) would. */
  write(bytes: Uint8Array): void;
  /** Every intact frame the module sends, decoded on the host's end. */
  onModuleFrame(listener: (frame: Frame) => void): () => void;
  /** Unplug and plug back in: a new session on the port, a new connection for the guard. */
  reconnect(): void;
  /** provision_begin and provision_commit with the fixtures' cloud: the module ends PROVISIONED. */
  provision(options?: { proof?: Uint8Array }): Promise<ProvisionBeginResponse>;
  /**
   * Asks the module for a challenge and answers it as the station (`station`, default the
   * fixtures') with an authorization the cloud (`signer`) issued: all operations, valid now,
   * unless `fields` say otherwise.
   */
  authorize(
    fields?: Partial<ServiceAuthorizationFields>,
    options?: { station?: Signer; signer?: Signer },
  ): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface RawServicePortOptions {
  /** The car's charger (default on: flashing needs 13.0 V). */
  charger?: boolean;
  /** Release keys the flash service accepts (default none: every image is refused). */
  pinnedReleaseKeys?: Array<{ publicKey: Uint8Array }>;
}

export async function openRawServicePort(
  options: RawServicePortOptions = {},
): Promise<RawServicePort> {
  const fx = await trustFixtures();
  const dir = await mkdtemp(join(tmpdir(), 'module-raw-port-'));
  const { simCar, hal, clock } = await startTestCar(dir, fx);
  // The charger on: flash_begin gets past its supply check into the announcement's own checks.
  if (options.charger ?? true) simCar.vehicle.setCharger(true);
  const elapsed = { ms: 0 };
  const storage = await openModuleStorage(join(dir, 'flash'));
  const stores = await openFirmwareStores(storage.records, {
    rootPublicKey: fx.root.publicKey,
    now: () => clock.now(),
  });
  const firmware = createFirmwareHandlers({
    config: {
      moduleSerial: fx.moduleSerial,
      hardwareRevision: 'MSM-HW-2',
      storageDir: join(dir, 'flash'),
      serialPort: '/dev/null',
      vehicleBus: simCar.socketPath,
    },
    storage,
    hal,
    stores,
    firmwareVersion: '1.0.0',
    runningSlot: 'A',
    startedAt: Date.now(),
    pinnedReleaseKeys: options.pinnedReleaseKeys ?? [],
    reboot: () => {
      port.reboots += 1;
    },
    clock,
    challengeElapsedMs: () => elapsed.ms,
    selfTests: { gnssFixWaitMs: 100, gnssPollMs: 20 },
  });

  let baudRate = 115200;
  const frameListeners = new Set<(frame: Frame) => void>();
  let line = connect();

  function connect() {
    const [hostEnd, moduleEnd] = createChannelPair();
    const module = new ServiceSession({ channel: moduleEnd, clock: systemClock });
    const follower = new BaudRateFollower(module, {
      clock: systemClock,
      rates: BAUD_RATES,
      setLocalBaudRate: async (rate) => {
        baudRate = rate;
      },
    });
    module.serve({ ...firmware.handlers, baudChange: follower.handleBaudChange });
    firmware.newConnection();
    const host = new ServiceSession({ channel: hostEnd, clock: systemClock, retries: 0 });
    const decoder = new FrameDecoder();
    hostEnd.onData((bytes) => {
      for (const frame of decoder.push(bytes))
        frameListeners.forEach((listener) => listener(frame));
    });
    return { hostEnd, module, host };
  }

  const disconnect = () => {
    line.host.close();
    line.module.close();
    line.hostEnd.close();
  };

  const port: RawServicePort = {
    fx,
    dir,
    storage,
    stores,
    simCar,
    vehicle: simCar.vehicle,
    hal,
    clock,
    elapsed,
    get host() {
      return line.host;
    },
    get module() {
      return line.module;
    },
    get moduleBaudRate() {
      return baudRate;
    },
    reboots: 0,
    write: (bytes) => line.hostEnd.write(bytes),
    onModuleFrame(listener) {
      frameListeners.add(listener);
      return () => frameListeners.delete(listener);
    },
    reconnect() {
      disconnect();
      line = connect();
    },
    async provision({ proof } = {}) {
      const auth = proof ? { serviceAuthorization: proof } : {};
      const begin = await line.host.request(
        'provisionBegin',
        { cloudNonce: randomBytes(32) },
        auth,
      );
      const moduleCertificate = await issueModuleCertificate(fx.cloud, {
        moduleSerial: fx.moduleSerial,
        modulePublicKey: begin.identityPublicKey,
        vin: fx.vin,
        issuedAtMs: TEST_NOW_MS,
      });
      await line.host.request(
        'provisionCommit',
        { moduleCertificate, moduleLink: moduleLink(fx) },
        auth,
      );
      return begin;
    },
    async authorize(fields = {}, { station = fx.station, signer = fx.cloud } = {}) {
      const { nonce } = await line.host.request('moduleChallenge', {});
      const authorization = await issueServiceAuthorization(signer, {
        authorizationId: randomBytes(16),
        moduleSerial: fx.moduleSerial,
        stationPublicKey: fx.station.publicKey,
        dealerId: 'DEALER-1',
        mechanicId: 'MECH-1',
        operations: ALL_OPERATIONS,
        issuedAtMs: TEST_NOW_MS - 60_000,
        validForMs: 15 * 60_000,
        ...fields,
      });
      return proveServiceAuthorization(
        station,
        authorization,
        nonce,
        fields.moduleSerial ?? fx.moduleSerial,
      );
    },
    async close() {
      disconnect();
      await stores.log.close();
      await storage.close();
      await hal.close();
      await simCar.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return port;
}
