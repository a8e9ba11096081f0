/**
 * For tests only: a provisioned module's cloud link in-process — temp-folder storage, an
 * identity provisioned with the test fixtures (root pinned, cloud key ring), a movable clock, a
 * fake car and access controller — plus the test cloud on the same broker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeModuleLinkSettings,
  issueModuleCertificate,
} from '@mini-sharing/shared-protocol/trust';
import {
  TEST_NOW_MS,
  trustFixtures,
  type TrustFixtures,
} from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { IdentityStore } from '../../service/identity.js';
import { openModuleStorage, type ModuleStorage } from '../../storage/index.js';
import { startCloudLink, type CloudLink, type CloudLinkOptions } from '../cloud-link.js';
import type { FaultCodeSource, StoredFaultCode } from '../command-target.js';
import { MODULE_PASSWORD } from './broker.js';
import { TestCloud, waitFor } from './cloud.js';
import { FakeAccess, FakeCar, TestModuleClock } from './fakes.js';

/** Fast timings for tests; each test may override. */
export const TEST_LINK_OPTIONS: CloudLinkOptions = {
  reconnectMinMs: 50,
  reconnectMaxMs: 250,
  connectTimeoutMs: 2_000,
  stateSettleMs: 300,
  telemetryDebounceMs: 30,
};

export interface ModuleRigOptions {
  brokerUrl: string;
  /** Where the test cloud connects (default: brokerUrl; a coverage proxy sits only on the module's side). */
  cloudUrl?: string;
  serial?: string;
  username?: string;
  password?: string;
  cloudUsername?: string;
  cloudPassword?: string;
  options?: CloudLinkOptions;
}

export class ModuleRig {
  readonly logs: string[] = [];
  readonly car = new FakeCar();
  readonly faults = new FakeFaults();
  readonly access: FakeAccess;
  link: CloudLink | undefined;

  private constructor(
    readonly fx: TrustFixtures,
    readonly serial: string,
    readonly dir: string,
    public storage: ModuleStorage,
    public identity: IdentityStore,
    readonly cloud: TestCloud,
    /** One world clock and one journal for the module and the cloud. */
    readonly clock: TestModuleClock,
    readonly journal: string[],
    private readonly linkOptions: CloudLinkOptions,
  ) {
    this.access = new FakeAccess({
      moduleSerial: serial,
      keyRing: () => {
        const ring = this.identity.provisioned?.keyRing;
        if (!ring) throw new Error('not provisioned');
        return ring;
      },
      car: this.car,
      journal: this.journal,
    });
  }

  static async open(options: ModuleRigOptions): Promise<ModuleRig> {
    const fx = await trustFixtures();
    const serial = options.serial ?? fx.moduleSerial;
    const dir = await mkdtemp(join(tmpdir(), 'module-cloud-link-'));
    const storage = await openModuleStorage(dir);
    const identity = await IdentityStore.open(storage.records, fx.root.publicKey);
    const pending = await identity.beginIdentity();
    await identity.commit({
      identityPublicKey: pending.publicKey,
      moduleCertificate: await issueModuleCertificate(fx.cloud, {
        moduleSerial: serial,
        modulePublicKey: pending.publicKey,
        vin: fx.vin,
        issuedAtMs: TEST_NOW_MS,
      }),
      moduleLinkSettings: encodeModuleLinkSettings({
        brokerUrl: options.brokerUrl,
        clientId: serial,
        username: options.username ?? serial,
        password: options.password ?? MODULE_PASSWORD,
        caCertificatePem: '',
        cloudSigningKeys: [fx.cloudCertificate],
        advertisingSecret: new Uint8Array(32).fill(7),
      }),
      cloudKeyCertificates: [fx.cloudCertificate, fx.retiredCloudCertificate],
    });
    const journal: string[] = [];
    const clock = new TestModuleClock(TEST_NOW_MS);
    const cloud = await TestCloud.connect({
      url: options.cloudUrl ?? options.brokerUrl,
      serial,
      fx,
      modulePublicKey: () => identity.identityPublicKey,
      now: () => clock.now(),
      journal,
      username: options.cloudUsername,
      password: options.cloudPassword,
    });
    return new ModuleRig(fx, serial, dir, storage, identity, cloud, clock, journal, {
      ...TEST_LINK_OPTIONS,
      ...options.options,
    });
  }

  /** Starts the module's link (again, after stop). */
  async start(options: CloudLinkOptions = {}): Promise<CloudLink> {
    this.link = await startCloudLink({
      moduleSerial: this.serial,
      identity: this.identity,
      records: this.storage.records,
      hal: this.car,
      clock: this.clock,
      access: this.access,
      faults: this.faults,
      log: (level, component, message) => this.logs.push(`${level} ${component}: ${message}`),
      firmwareVersion: '1.4.0-test',
      options: { ...this.linkOptions, ...options },
    });
    return this.link;
  }

  async stop(): Promise<void> {
    await this.link?.close();
    this.link = undefined;
  }

  /** Stops the link, reopens storage and identity from disk (a power cycle), starts again. */
  async powerCycle(options: CloudLinkOptions = {}): Promise<CloudLink> {
    await this.stop();
    await this.storage.close();
    this.storage = await openModuleStorage(this.dir);
    this.identity = await IdentityStore.open(this.storage.records, this.fx.root.publicKey);
    return this.start(options);
  }

  async online(): Promise<void> {
    await waitFor(() => this.link?.status.state === 'online', 'the link to be online');
  }

  async offline(): Promise<void> {
    await waitFor(
      () =>
        this.link && this.link.status.state !== 'online' && this.link.status.state !== 'syncing',
      'the link to go offline',
    );
  }

  async close(): Promise<void> {
    await this.stop();
    await this.cloud.close();
    await this.storage.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export class FakeFaults implements FaultCodeSource {
  readonly #listeners = new Set<(fault: StoredFaultCode) => void>();
  onStored(listener: (fault: StoredFaultCode) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  store(fault: StoredFaultCode): void {
    for (const listener of this.#listeners) listener(fault);
  }
}
