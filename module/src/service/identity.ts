/**
 * The module's identity and what provisioning stored (DESIGN "Keys and trust"): the Ed25519
 * identity seed (generated here, never sent anywhere), the module certificate, the module-link
 * settings and the cloud key certificates of its key ring.
 *
 * Two crash-safe records:
 * - `identity-seed-pending`: the seed ProvisionBegin generated, waiting for its certificate;
 * - `provisioning`: everything a commit stores, written as ONE record, so a power cut during a
 *   commit leaves the old provisioning or the new one, never a mix (a re-provisioned module keeps
 *   its old identity until the new certificate is committed).
 * State: PROVISIONED when `provisioning` exists, else PENDING when a pending seed exists, else
 * UNPROVISIONED. The store keeps a snapshot in memory so per-request checks read no file.
 */
import { ProvisioningState } from '@mini-sharing/shared-protocol/messages';
import {
  ED25519_SEED_LENGTH,
  bytesEqual,
  fromHex,
  generateEd25519Seed,
  randomBytes,
  seedSigner,
  toHex,
  verifyEd25519,
  type Signer,
} from '@mini-sharing/shared-protocol/crypto';
import { CloudKeyRing } from '@mini-sharing/shared-protocol/trust';
import type { RecordStore } from '../storage/index.js';

export const PENDING_SEED_RECORD = 'identity-seed-pending';
export const PROVISIONING_RECORD = 'provisioning';

/** What a successful ProvisionCommit stores (binary fields in hex). */
export interface ProvisioningRecord {
  identitySeed: string;
  /** Encoded Signed ModuleCertificate. */
  moduleCertificate: string;
  /** Encoded ModuleLinkSettings. */
  moduleLinkSettings: string;
  /** Encoded Signed CloudKeyCertificates (the key ring; certified by the pinned root). */
  cloudKeyCertificates: string[];
}

const isHex = (value: unknown): value is string =>
  typeof value === 'string' && value.length % 2 === 0 && /^[0-9a-f]*$/.test(value);

function isProvisioningRecord(value: unknown): value is ProvisioningRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    isHex(record.identitySeed) &&
    record.identitySeed.length === 2 * ED25519_SEED_LENGTH &&
    isHex(record.moduleCertificate) &&
    isHex(record.moduleLinkSettings) &&
    Array.isArray(record.cloudKeyCertificates) &&
    record.cloudKeyCertificates.every(isHex)
  );
}

export interface ProvisionedIdentity {
  identity: Signer;
  moduleCertificate: Uint8Array;
  moduleLinkSettings: Uint8Array;
  cloudKeyCertificates: Uint8Array[];
  /** The cloud signing keys the pinned root certified (empty without a pinned root). */
  keyRing: CloudKeyRing;
}

export interface CommitInput {
  /** The pending identity the certificate was checked against. */
  identityPublicKey: Uint8Array;
  moduleCertificate: Uint8Array;
  moduleLinkSettings: Uint8Array;
  cloudKeyCertificates: Uint8Array[];
}

/** The module's provisioning state, read once from storage and kept current in memory. */
export class IdentityStore {
  readonly #records: RecordStore;
  readonly #rootPublicKey: Uint8Array | undefined;
  #pendingSeed: Uint8Array | undefined;
  #provisioned: ProvisionedIdentity | undefined;

  private constructor(records: RecordStore, rootPublicKey: Uint8Array | undefined) {
    this.#records = records;
    this.#rootPublicKey = rootPublicKey;
  }

  /**
   * `rootPublicKey`: the pinned cloud root key (undefined when this build pins none: the module
   * then cannot be provisioned and holds an empty key ring).
   */
  static async open(
    records: RecordStore,
    rootPublicKey: Uint8Array | undefined,
  ): Promise<IdentityStore> {
    const store = new IdentityStore(records, rootPublicKey);
    const pending = await records.get(PENDING_SEED_RECORD);
    store.#pendingSeed = pending?.length === ED25519_SEED_LENGTH ? pending : undefined;
    const record = await records.getJson(PROVISIONING_RECORD, isProvisioningRecord);
    if (record) store.#provisioned = await store.#load(record);
    return store;
  }

  get rootPublicKey(): Uint8Array | undefined {
    return this.#rootPublicKey;
  }

  get state(): ProvisioningState {
    if (this.#provisioned) return ProvisioningState.PROVISIONED;
    return this.#pendingSeed ? ProvisioningState.PENDING : ProvisioningState.UNPROVISIONED;
  }

  /** What the last commit stored; undefined unless PROVISIONED. */
  get provisioned(): ProvisionedIdentity | undefined {
    return this.#provisioned;
  }

  /** The committed identity public key; empty until provisioned (device_info). */
  get identityPublicKey(): Uint8Array {
    return this.#provisioned?.identity.publicKey ?? new Uint8Array(0);
  }

  /** The identity key ProvisionBegin generated and a commit would install, if any. */
  get pendingIdentity(): Signer | undefined {
    return this.#pendingSeed && seedSigner(this.#pendingSeed);
  }

  /** Generates a new identity seed and stores it durably as the pending one. */
  async beginIdentity(): Promise<Signer> {
    const seed = generateEd25519Seed();
    await this.#records.put(PENDING_SEED_RECORD, seed);
    this.#pendingSeed = seed;
    return seedSigner(seed);
  }

  /** Stores a checked commit in one record, then drops the pending seed. */
  async commit(input: CommitInput): Promise<void> {
    const seed = this.#pendingSeed;
    if (!seed || !bytesEqual(seedSigner(seed).publicKey, input.identityPublicKey)) {
      throw new Error('the pending identity key changed while the commit was being checked');
    }
    const record: ProvisioningRecord = {
      identitySeed: toHex(seed),
      moduleCertificate: toHex(input.moduleCertificate),
      moduleLinkSettings: toHex(input.moduleLinkSettings),
      cloudKeyCertificates: input.cloudKeyCertificates.map(toHex),
    };
    const loaded = await this.#load(record);
    await this.#records.putJson(PROVISIONING_RECORD, record, isProvisioningRecord);
    this.#provisioned = loaded;
    await this.#records.delete(PENDING_SEED_RECORD);
    this.#pendingSeed = undefined;
  }

  /**
   * Cloud key rotation (module link): replaces the key ring's certificates in the provisioning
   * record, durably, and reloads the ring. The caller has checked them against the pinned root;
   * a certificate that does not verify is left out of the ring, as at start-up.
   */
  async replaceCloudKeyCertificates(certificates: readonly Uint8Array[]): Promise<void> {
    const record = await this.#records.getJson(PROVISIONING_RECORD, isProvisioningRecord);
    if (!record || !this.#provisioned) throw new Error('the module is not provisioned');
    const updated: ProvisioningRecord = {
      ...record,
      cloudKeyCertificates: certificates.map(toHex),
    };
    const loaded = await this.#load(updated);
    await this.#records.putJson(PROVISIONING_RECORD, updated, isProvisioningRecord);
    this.#provisioned = loaded;
  }

  /** Factory reset: forgets the identity and everything provisioning stored (UNPROVISIONED). */
  async reset(): Promise<void> {
    await this.#records.delete(PROVISIONING_RECORD);
    this.#provisioned = undefined;
    await this.#records.delete(PENDING_SEED_RECORD);
    this.#pendingSeed = undefined;
  }

  /**
   * The secure-storage self-test: the stored identity still reads back intact and names the key
   * in use, and that key signs a fresh message that verifies. Never throws.
   */
  async selfCheck(): Promise<{ ok: true } | { ok: false; problem: string }> {
    const provisioned = this.#provisioned;
    if (!provisioned) return { ok: false, problem: 'the module holds no identity key' };
    let record: ProvisioningRecord | undefined;
    try {
      record = await this.#records.getJson(PROVISIONING_RECORD, isProvisioningRecord);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, problem: `the stored identity does not read back: ${reason}` };
    }
    if (!record) return { ok: false, problem: 'the stored identity is gone' };
    const publicKey = provisioned.identity.publicKey;
    if (!bytesEqual(seedSigner(fromHex(record.identitySeed)).publicKey, publicKey)) {
      return { ok: false, problem: 'the stored identity key differs from the key in use' };
    }
    const message = randomBytes(32);
    try {
      const signature = await provisioned.identity.sign(message);
      if (await verifyEd25519(publicKey, message, signature)) return { ok: true };
    } catch {
      // reported below
    }
    return { ok: false, problem: "the identity key's signature does not verify" };
  }

  async #load(record: ProvisioningRecord): Promise<ProvisionedIdentity> {
    const cloudKeyCertificates = record.cloudKeyCertificates.map(fromHex);
    // Without a pinned root no certificate can verify: the ring is empty (it trusts nothing).
    const { ring: keyRing } = await CloudKeyRing.fromCertificates(
      this.#rootPublicKey ?? new Uint8Array(32),
      this.#rootPublicKey ? cloudKeyCertificates : [],
    );
    return {
      identity: seedSigner(fromHex(record.identitySeed)),
      moduleCertificate: fromHex(record.moduleCertificate),
      moduleLinkSettings: fromHex(record.moduleLinkSettings),
      cloudKeyCertificates,
      keyRing,
    };
  }
}
