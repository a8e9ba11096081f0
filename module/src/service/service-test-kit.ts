/**
 * For this folder's tests only: a module's service port in-process (ServiceSession over
 * createChannelPair, temp-folder storage), serving the firmware's real handlers
 * (createFirmwareHandlers, as firmware/main.ts does) against a simulated car on a real vehicle bus
 * socket through the sim HAL, with the test trust fixtures' root pinned. Authorizations are
 * checked against a fake clock the tests move.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { randomBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  ServiceSession,
  RejectedError,
  createChannelPair,
} from '@mini-sharing/shared-protocol/session';
import {
  issueModuleCertificate,
  issueServiceAuthorization,
  proveServiceAuthorization,
  ServiceOperation,
  type ServiceAuthorizationFields,
} from '@mini-sharing/shared-protocol/trust';
import {
  TEST_NOW_MS,
  trustFixtures,
  type TrustFixtures,
} from '@mini-sharing/shared-protocol/trust/test-fixtures';
import type { Signer } from '@mini-sharing/shared-protocol/crypto';
import {
  SHARING_OPTION_CODE,
  exampleFleet,
  type FleetVehicle,
} from '@mini-sharing/shared-protocol/vehicle';
import { startSimulatedCar, type SimulatedCar, type SimulatedVehicle } from '../../sim/index.js';
import { openSimHal, type SimHal } from '../hal/sim/index.js';
import { openModuleStorage, type ModuleStorage } from '../storage/index.js';
import {
  createFirmwareHandlers,
  openFirmwareStores,
  type FirmwareStores,
} from '../firmware/firmware-service.js';
import type { FaultMemory } from './fault-codes.js';
import type { IdentityStore } from './identity.js';
import type { ModuleLog } from './module-log.js';

export const ALL_OPERATIONS = [
  ServiceOperation.FLASH,
  ServiceOperation.PROVISION,
  ServiceOperation.ACTUATING_SELF_TEST,
  ServiceOperation.CLEAR_FAULTS,
  ServiceOperation.FACTORY_RESET,
];

export interface FakeClock {
  nowMs: number;
  timeKnown: boolean;
  now(): number;
  setTime(nowMs: number): Promise<void>;
}

/**
 * The car every in-process service test runs against: a 5GE MINI of the example fleet with the
 * trust fixtures' VIN and module serial (plus `car` changes), its clock stopped at TEST_NOW_MS,
 * the module's sim HAL on its bus, and the module clock as a FakeClock the test moves.
 */
export async function startTestCar(
  dir: string,
  fx: { vin: string; moduleSerial: string },
  car: Partial<FleetVehicle> = {},
): Promise<{ simCar: SimulatedCar; hal: SimHal; clock: FakeClock }> {
  const base = exampleFleet().vehicles[0] as FleetVehicle;
  const simCar = await startSimulatedCar({
    fleetVehicle: {
      ...base,
      vin: fx.vin,
      moduleHardware: { hardwareRevision: 'HW-C', moduleSerial: fx.moduleSerial },
      ...car,
    },
    socketPath: join(dir, 'bus.sock'),
    clock: { startMs: TEST_NOW_MS, timeScale: 0 },
  });
  const hal = await openSimHal({ socketPath: simCar.socketPath });
  const clock: FakeClock = {
    nowMs: TEST_NOW_MS,
    timeKnown: true,
    now() {
      return this.nowMs;
    },
    async setTime(nowMs) {
      this.nowMs = nowMs;
      this.timeKnown = true;
    },
  };
  return { simCar, hal, clock };
}

export interface ServiceKitOptions {
  /** Changes to the kit's car (a 5GE MINI with the fixtures' VIN and module serial). */
  car?: Partial<FleetVehicle>;
  /** How long the GNSS self-test waits for a fix; default 100 ms (tests need no 5 s wait). */
  gnssFixWaitMs?: number;
}

export interface ServiceKit {
  fx: TrustFixtures;
  dir: string;
  /** The module's storage, identity, fault memory and log (new objects after `restart`). */
  readonly storage: ModuleStorage;
  readonly identity: IdentityStore;
  readonly faults: FaultMemory;
  readonly log: ModuleLog;
  clock: FakeClock;
  /** Monotonic time the guard uses for challenge expiry. */
  elapsed: { ms: number };
  /** The simulated car on its vehicle bus, and the module's sim HAL connected to it. */
  simCar: SimulatedCar;
  vehicle: SimulatedVehicle;
  hal: SimHal;
  /**
   * The VIN the car reports; undefined: a car without 5GE. Setting undefined codes 5GE out of
   * the simulated car, setting it back codes 5GE in (the VIN itself does not change).
   */
  car: { vin: string | undefined };
  /** How often the firmware asked to restart (flash_activate, factory reset). */
  reboots: number;
  host: ServiceSession;
  /** Drop the line and start a new session (a new connection for the guard). */
  reconnect(): void;
  /** The module restarts: storage reopened, handlers built anew, a new session. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function openServiceKit(options: ServiceKitOptions = {}): Promise<ServiceKit> {
  const fx = await trustFixtures();
  const dir = await mkdtemp(join(tmpdir(), 'module-service-'));
  const { simCar, hal, clock } = await startTestCar(dir, fx, options.car);
  const elapsed = { ms: 0 };
  const vehicle = simCar.vehicle;
  const codedWith5ge = vehicle.identity.optionCodes;
  const config = {
    moduleSerial: fx.moduleSerial,
    hardwareRevision: 'MSM-HW-2',
    storageDir: dir,
    serialPort: '/dev/null',
    vehicleBus: simCar.socketPath,
  };

  let storage: ModuleStorage;
  let stores: FirmwareStores;
  let newConnection = () => {};
  let handlers = {};
  let close = () => {};

  async function open(): Promise<void> {
    storage = await openModuleStorage(dir);
    stores = await openFirmwareStores(storage.records, {
      rootPublicKey: fx.root.publicKey,
      now: () => clock.now(),
    });
    const firmware = createFirmwareHandlers({
      config,
      storage,
      hal,
      stores,
      firmwareVersion: '1.0.0',
      runningSlot: 'A',
      startedAt: Date.now(),
      pinnedReleaseKeys: [],
      reboot: () => {
        kit.reboots += 1;
      },
      clock,
      challengeElapsedMs: () => elapsed.ms,
      selfTests: { gnssFixWaitMs: options.gnssFixWaitMs ?? 100, gnssPollMs: 20 },
    });
    handlers = firmware.handlers;
    newConnection = firmware.newConnection;
  }

  const connect = (): ServiceSession => {
    const [hostEnd, moduleEnd] = createChannelPair();
    const module = new ServiceSession({ channel: moduleEnd, clock: systemClock });
    module.serve(handlers);
    newConnection();
    const host = new ServiceSession({ channel: hostEnd, clock: systemClock, retries: 0 });
    close = () => {
      host.close();
      module.close();
      hostEnd.close();
    };
    return host;
  };

  async function shutDown(): Promise<void> {
    close();
    await stores.log.close();
    await storage.close();
  }

  await open();
  const kit: ServiceKit = {
    fx,
    dir,
    get storage() {
      return storage;
    },
    get identity() {
      return stores.identity;
    },
    get faults() {
      return stores.faults;
    },
    get log() {
      return stores.log;
    },
    clock,
    elapsed,
    simCar,
    vehicle,
    hal,
    car: {
      get vin() {
        return vehicle.hasSharingInterface ? vehicle.identity.vin : undefined;
      },
      set vin(vin: string | undefined) {
        vehicle.recode(
          vin === undefined
            ? codedWith5ge.filter((code) => code !== SHARING_OPTION_CODE)
            : codedWith5ge,
        );
      },
    },
    reboots: 0,
    host: connect(),
    reconnect() {
      close();
      kit.host = connect();
    },
    async restart() {
      await shutDown();
      await open();
      kit.host = connect();
    },
    async close() {
      await shutDown();
      await hal.close();
      await simCar.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return kit;
}

/** Begin and commit with valid fixtures: the module ends PROVISIONED. */
export async function provision(kit: ServiceKit, options: { proof?: Uint8Array } = {}) {
  const { fx, host } = kit;
  const auth = options.proof ? { serviceAuthorization: options.proof } : {};
  const begin = await host.request('provisionBegin', { cloudNonce: randomBytes(32) }, auth);
  const certificate = await issueModuleCertificate(fx.cloud, {
    moduleSerial: fx.moduleSerial,
    modulePublicKey: begin.identityPublicKey,
    vin: fx.vin,
    issuedAtMs: TEST_NOW_MS,
  });
  await host.request(
    'provisionCommit',
    { moduleCertificate: certificate, moduleLink: moduleLink(fx) },
    auth,
  );
  return begin;
}

export const moduleLink = (fx: TrustFixtures, cloudSigningKeys = [fx.cloudCertificate]) => ({
  brokerUrl: 'mqtts://broker.mini-sharing.test',
  clientId: fx.moduleSerial,
  username: fx.moduleSerial,
  password: 'secret',
  advertisingSecret: new Uint8Array(32).fill(7),
  cloudSigningKeys,
});

/** Asks the module for a challenge and answers it as `station` with a fresh authorization. */
export async function authorize(
  kit: ServiceKit,
  fields: Partial<ServiceAuthorizationFields> = {},
  options: { station?: Signer; signer?: Signer } = {},
): Promise<Uint8Array> {
  const { fx } = kit;
  const { nonce } = await kit.host.request('moduleChallenge', {});
  const authorization = await issueServiceAuthorization(options.signer ?? fx.cloud, {
    authorizationId: new Uint8Array(16).fill(1),
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
    options.station ?? fx.station,
    authorization,
    nonce,
    fields.moduleSerial ?? fx.moduleSerial,
  );
}

/** The error the module answered with (fails when the request was accepted). */
export async function refusal(promise: Promise<unknown>): Promise<RejectedError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RejectedError) return error;
    throw error;
  }
  throw new Error('the module accepted the request');
}

/**
 * Every stored file and its bytes, to show a refused request changed nothing. The module log's
 * records are left out: a refused request is meant to leave a line there (firmware-service.ts).
 */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('log-')) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length)] = toHex(await readFile(path));
  }
  return files;
}
