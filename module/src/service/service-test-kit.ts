/**
 * For this folder's tests only: a module's service port in-process (ServiceSession over
 * createChannelPair, temp-folder storage, a fake car and clock), wired as firmware/main.ts wires
 * it, with the test trust fixtures' root pinned.
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
  type RequestHandlers,
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
import { HalError } from '../hal/index.js';
import { openModuleStorage, type ModuleStorage } from '../storage/index.js';
import { createFlashService } from './flash-service.js';
import { IdentityStore } from './identity.js';
import { createProvisioningService } from './provisioning.js';
import { AuthorizationGuard } from './authorization.js';

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

export interface ServiceKit {
  fx: TrustFixtures;
  dir: string;
  storage: ModuleStorage;
  identity: IdentityStore;
  guard: AuthorizationGuard;
  clock: FakeClock;
  /** Monotonic time the guard uses for challenge expiry. */
  elapsed: { ms: number };
  /** The VIN the car reports; undefined: a car without 5GE. */
  car: { vin: string | undefined };
  /** Calls that reached the stub handlers (self-test, fault codes, factory reset). */
  calls: string[];
  host: ServiceSession;
  /** Drop the line and start a new session (a new connection for the guard). */
  reconnect(): void;
  close(): Promise<void>;
}

export async function openServiceKit(): Promise<ServiceKit> {
  const fx = await trustFixtures();
  const dir = await mkdtemp(join(tmpdir(), 'module-service-'));
  const storage = await openModuleStorage(dir);
  const identity = await IdentityStore.open(storage.records, fx.root.publicKey);
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
  const elapsed = { ms: 0 };
  const car: { vin: string | undefined } = { vin: fx.vin };
  const calls: string[] = [];
  const guard = new AuthorizationGuard({
    identity,
    moduleSerial: fx.moduleSerial,
    clock,
    elapsedMs: () => elapsed.ms,
  });
  const handlers: RequestHandlers = {
    ...guard.handlers,
    ...guard.guard({
      ...createFlashService({
        storage,
        hardwareRevision: 'MSM-HW-2',
        pinnedKeys: [],
        runningSlot: 'A',
        readSupplyMillivolts: async () => 14_000,
        reboot: () => {},
      }),
      ...createProvisioningService({
        identity,
        moduleSerial: fx.moduleSerial,
        vehicle: {
          readIdentity: async () => {
            if (car.vin === undefined) throw new HalError('no-sharing-interface', 'no 5GE');
            return {
              vin: car.vin,
              model: 'MINI Cooper',
              market: 'DE',
              productionDate: '2019-03-01',
              optionCodes: ['5GE'],
              fuel: 'petrol',
              doors: ['front-left', 'front-right', 'tailgate', 'bonnet'],
            };
          },
        },
      }),
      selfTestRun: (request) => {
        calls.push(`selfTestRun ${request.testIds.join(',')}`);
        return { results: [] };
      },
      faultCodesClear: () => {
        calls.push('faultCodesClear');
        return { cleared: 0 };
      },
      factoryReset: () => {
        calls.push('factoryReset');
        return { rebootInMs: 0 };
      },
    }),
  };
  let close = () => {};
  const connect = (): ServiceSession => {
    const [hostEnd, moduleEnd] = createChannelPair();
    const module = new ServiceSession({ channel: moduleEnd, clock: systemClock });
    module.serve(handlers);
    guard.newConnection();
    const host = new ServiceSession({ channel: hostEnd, clock: systemClock, retries: 0 });
    close = () => {
      host.close();
      module.close();
      hostEnd.close();
    };
    return host;
  };
  const kit: ServiceKit = {
    fx,
    dir,
    storage,
    identity,
    guard,
    clock,
    elapsed,
    car,
    calls,
    host: connect(),
    reconnect() {
      close();
      kit.host = connect();
    },
    async close() {
      close();
      await storage.close();
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

/** Every stored file and its bytes, to show a refused request changed nothing. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length)] = toHex(await readFile(path));
  }
  return files;
}
