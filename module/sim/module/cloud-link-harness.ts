/**
 * The module's REAL cloud link (src/cloud-link, unchanged firmware code) on its own, for another
 * part's tests: the cloud's tests point it at their broker without importing module firmware
 * (DESIGN "Boundaries").
 *
 * What the link needs is made here: the module's storage in a temporary folder, its identity
 * store with the pinned root given, a fresh identity key (as ProvisionBegin makes it), a clock
 * standing at the current time, a car and a recording access controller (src/cloud-link/testing).
 * A test reads the identity key to register the module, provisions it with what the cloud
 * issued (module certificate, module-link settings, cloud key certificates), starts the link,
 * emits access events (a key used at the car) and looks at what the cloud's commands did.
 *
 * ```ts
 * const module = await openCloudLinkHarness({ serial, rootPublicKey });
 * const credentials = await cloud.register(serial, module.identityPublicKey);
 * await module.provision({ moduleCertificate, moduleLinkSettings, cloudKeyCertificates });
 * await module.startLink({ options: { reconnectMinMs: 50 } });
 * // ... module.access.revocationList, module.emit({ case: 'keyUsed', ... }), module.status
 * await module.close();
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudKeyRing, RevocationList } from '@mini-sharing/shared-protocol/trust';
import {
  startCloudLink,
  type AccessEvent,
  type CloudLink,
  type CloudLinkOptions,
  type CloudLinkStatus,
  type TargetBooking,
} from '../../src/cloud-link/index.js';
import {
  FakeAccess,
  FakeCar,
  TestModuleClock,
  type AccessCall,
} from '../../src/cloud-link/testing/fakes.js';
import { IdentityStore } from '../../src/service/identity.js';
import { openModuleStorage, type ModuleStorage } from '../../src/storage/index.js';

export type {
  AccessCall as CloudLinkAccessCall,
  AccessEvent as CloudLinkAccessEvent,
  CloudLinkOptions,
  CloudLinkStatus,
};

export interface CloudLinkHarnessInit {
  /** The module serial: the MQTT client id, and what the settings and certificate must name. */
  serial: string;
  /** The cloud root key the module pins (its key ring and settings are checked against it). */
  rootPublicKey: Uint8Array;
}

/** What the cloud issues at provisioning (as the workshop hands it to ProvisionCommit). */
export interface CloudLinkProvisioning {
  /** Encoded Signed ModuleCertificate for `identityPublicKey`. */
  moduleCertificate: Uint8Array;
  /** Encoded ModuleLinkSettings (broker, credentials) signed by the root. */
  moduleLinkSettings: Uint8Array;
  /** Encoded Signed CloudKeyCertificates: the module's key ring. */
  cloudKeyCertificates: Uint8Array[];
}

export interface CloudLinkStart {
  /** Reported in the module's presence. Default "0.0.0-dev". */
  firmwareVersion?: string;
  /** The link's timing (reconnect back-off, settle time, telemetry debounce, ...). */
  options?: CloudLinkOptions;
}

/** What the cloud link asked of the module's access controller (a recording stand-in). */
export interface CloudLinkHarnessAccess {
  /** Every call, in order (revocation lists with whether they were accepted). */
  readonly calls: readonly AccessCall[];
  /** The booking the cloud last started and did not end. */
  readonly runningBooking: TargetBooking | undefined;
  /** The last revocation list that verified against the key ring. */
  readonly revocationList: RevocationList | undefined;
  /** The trusted time floor the cloud's time syncs set. */
  readonly trustedFloorMs: number;
  /** How many times the link called `method`. */
  count(method: AccessCall['method']): number;
}

export interface CloudLinkHarness {
  readonly serial: string;
  /** The module's identity public key (the pending one until provisioned): register it. */
  readonly identityPublicKey: Uint8Array;
  /** After `provision`: the stored module certificate. */
  readonly moduleCertificate: Uint8Array | undefined;
  /** After `provision`: the cloud signing keys the module trusts (it follows rotations). */
  readonly keyRing: CloudKeyRing | undefined;
  /** The recording access controller the link carries cloud commands out on. */
  readonly access: CloudLinkHarnessAccess;
  /** The link's status; undefined until `startLink` and after `stopLink`. */
  readonly status: CloudLinkStatus | undefined;
  /** The module's log lines, as "level component: message". */
  readonly logs: readonly string[];
  /** Commits what the cloud issued, as ProvisionCommit does (throws on a mismatch). */
  provision(material: CloudLinkProvisioning): Promise<void>;
  /** Starts the real cloud link (rejects when not provisioned or the settings do not verify). */
  startLink(start?: CloudLinkStart): Promise<void>;
  /** Something happened at the car the cloud is told about (e.g. a key used). */
  emit(event: AccessEvent): void;
  /** Closes the link gracefully: a retained OFFLINE when connected, then DISCONNECT. */
  stopLink(): Promise<void>;
  /** Stops the link, closes the storage and deletes its folder. */
  close(): Promise<void>;
}

/** A module with a fresh identity key and empty storage, its cloud link not started yet. */
export async function openCloudLinkHarness(init: CloudLinkHarnessInit): Promise<CloudLinkHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'module-cloud-link-'));
  let storage: ModuleStorage | undefined;
  try {
    storage = await openModuleStorage(dir);
    const identity = await IdentityStore.open(storage.records, init.rootPublicKey);
    const pending = await identity.beginIdentity();
    return new Harness(init.serial, dir, storage, identity, pending.publicKey);
  } catch (error) {
    await storage?.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

class Harness implements CloudLinkHarness {
  readonly logs: string[] = [];
  readonly #car = new FakeCar();
  readonly #access: FakeAccess;
  #link: CloudLink | undefined;
  #closed = false;

  constructor(
    readonly serial: string,
    private readonly dir: string,
    private readonly storage: ModuleStorage,
    private readonly identity: IdentityStore,
    private readonly pendingPublicKey: Uint8Array,
  ) {
    this.#access = new FakeAccess({
      moduleSerial: serial,
      keyRing: () => {
        const ring = identity.provisioned?.keyRing;
        if (!ring) throw new Error('The module is not provisioned: no key ring');
        return ring;
      },
      car: this.#car,
      journal: [],
    });
  }

  get identityPublicKey(): Uint8Array {
    return this.identity.provisioned?.identity.publicKey ?? this.pendingPublicKey;
  }

  get moduleCertificate(): Uint8Array | undefined {
    return this.identity.provisioned?.moduleCertificate;
  }

  get keyRing(): CloudKeyRing | undefined {
    return this.identity.provisioned?.keyRing;
  }

  get access(): CloudLinkHarnessAccess {
    return this.#access;
  }

  get status(): CloudLinkStatus | undefined {
    return this.#link?.status;
  }

  async provision(material: CloudLinkProvisioning): Promise<void> {
    await this.identity.commit({ identityPublicKey: this.pendingPublicKey, ...material });
  }

  async startLink(start: CloudLinkStart = {}): Promise<void> {
    if (this.#closed) throw new Error('The harness is closed');
    if (this.#link) throw new Error('The cloud link is already running');
    this.#link = await startCloudLink({
      moduleSerial: this.serial,
      identity: this.identity,
      records: this.storage.records,
      hal: this.#car,
      clock: new TestModuleClock(Date.now()),
      access: this.#access,
      log: (level, component, message) => this.logs.push(`${level} ${component}: ${message}`),
      firmwareVersion: start.firmwareVersion,
      options: start.options,
    });
  }

  emit(event: AccessEvent): void {
    this.#access.emit(event);
  }

  async stopLink(): Promise<void> {
    const link = this.#link;
    this.#link = undefined;
    await link?.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.stopLink();
    } finally {
      await this.storage.close();
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}
