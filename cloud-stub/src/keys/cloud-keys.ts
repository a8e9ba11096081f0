/**
 * The cloud's keys (DESIGN.md "Keys and trust", PROTOCOL.md 12): the root key, which only
 * certifies signing keys, and the signing keys, which sign everything else. Thin wrappers over
 * shared-protocol's trust/ and link/ signers: this file decides WHICH key signs and WHEN, never
 * how.
 *
 * Signing keys come in a set: `current` signs, `next` is already certified and given to every
 * module (module-link settings carry both certificates), so a rotation switches to a key the
 * modules already trust. `rotate()` makes next the current key, certifies a new next key and keeps
 * the former current key: it stays valid for its certificate's window (a module checks a signed
 * object's issue time against the window of the key that signed it), and objects it signed
 * (digital keys, authorizations) keep working until they expire.
 */
import {
  randomBytes,
  seedSigner,
  generateEd25519Seed,
  bytesEqual,
  toHex,
  type Signer,
} from '@mini-sharing/shared-protocol/crypto';
import {
  ENVELOPE_ID_LENGTH,
  signCloudEnvelope,
  type CloudBodyInit,
} from '@mini-sharing/shared-protocol/link';
import {
  CloudKeyRing,
  issueCloudKeyCertificate,
  issueDigitalKey,
  issueModuleCertificate,
  issueRevocationList,
  issueServiceAuthorization,
  verifyCloudKeyCertificate,
  type DigitalKeyFields,
  type RevocationEntry,
  type ServiceAuthorizationFields,
} from '@mini-sharing/shared-protocol/trust';
import { loadCloudKeyFiles } from './key-files.js';
import type { KeyStore, SigningKeySet, StoredSigningKey } from './key-store.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Default validity of a signing key certificate. */
export const DEFAULT_SIGNING_KEY_VALIDITY_MS = 730 * DAY_MS;
/**
 * Default time a former signing key is kept after its window: the longest-lived object a signing
 * key signs is a digital key (31 days at most, PROTOCOL.md 15.6).
 */
export const DEFAULT_RETAIN_AFTER_WINDOW_MS = 31 * DAY_MS;
/** Default life of a cloud command envelope (PROTOCOL.md 16.4: commands live for minutes). */
export const DEFAULT_COMMAND_EXPIRY_MS = 5 * 60 * 1000;

/** A signing key as others may see it: never the seed. */
export interface SigningKeyInfo {
  keyId: Uint8Array;
  /** Hex of keyId, for logs and storage. */
  keyIdHex: string;
  publicKey: Uint8Array;
  /** Encoded Signed CloudKeyCertificate (root-signed). */
  certificate: Uint8Array;
  notBeforeMs: number;
  notAfterMs: number;
}

interface HeldKey {
  stored: StoredSigningKey;
  signer: Signer;
  info: SigningKeyInfo;
}

export interface CloudKeysOptions {
  /** The root key (certifies signing keys only). */
  root: Signer;
  store: KeyStore;
  /**
   * The current signing key's seed when the store holds no keys yet (e.g. the development
   * signing key in build/keys). Default: a new random key. Ignored once keys are stored.
   */
  initialSigningSeed?: Uint8Array;
  /** Cloud clock, ms since the epoch. Default Date.now. */
  now?: () => number;
  /** Validity of each signing key certificate from its creation. Default 730 days. */
  signingKeyValidityMs?: number;
  /** How long a former key is kept after its window ends. Default 31 days. */
  retainAfterWindowMs?: number;
  /** Seeds for new signing keys. Default: 32 random bytes. */
  generateSeed?: () => Uint8Array;
}

export interface RotationResult {
  current: SigningKeyInfo;
  next: SigningKeyInfo;
  /** Former keys dropped now (past their window and the retention). */
  retiredKeyIds: Uint8Array[];
  /**
   * The command body that tells a module about the rotation: the new next key's certificate and
   * the key ids to drop. Publish it to every module (it is signed by the new current key, which
   * modules already trust as their "next").
   */
  announcement: {
    case: 'cloudKeyRotation';
    value: { cloudKeyCertificate: Uint8Array; retiredKeyIds: Uint8Array[] };
  };
}

/** What a cloud envelope needs; times default to now and now + 5 minutes. */
export interface CloudEnvelopeRequest {
  moduleSerial: string;
  body: CloudBodyInit;
  /** Default 16 random bytes. */
  id?: Uint8Array;
  issuedAtMs?: number;
  /** Absolute expiry; wins over expiresInMs. */
  expiresAtMs?: number;
  /** Expiry relative to the issue time. Default 5 minutes. */
  expiresInMs?: number;
}

export interface SignedEnvelope {
  id: Uint8Array;
  /** The MQTT payload. */
  bytes: Uint8Array;
  issuedAtMs: number;
  expiresAtMs: number;
  signerKeyId: Uint8Array;
}

export class CloudKeys {
  readonly #root: Signer;
  readonly #store: KeyStore;
  readonly #now: () => number;
  readonly #validityMs: number;
  readonly #retainMs: number;
  readonly #generateSeed: () => Uint8Array;
  #current: HeldKey;
  #next: HeldKey;
  #previous: HeldKey[];
  #rotating: Promise<unknown> = Promise.resolve();

  private constructor(
    options: CloudKeysOptions,
    keys: { current: HeldKey; next: HeldKey; previous: HeldKey[] },
  ) {
    this.#root = options.root;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#validityMs = options.signingKeyValidityMs ?? DEFAULT_SIGNING_KEY_VALIDITY_MS;
    this.#retainMs = options.retainAfterWindowMs ?? DEFAULT_RETAIN_AFTER_WINDOW_MS;
    this.#generateSeed = options.generateSeed ?? generateEd25519Seed;
    this.#current = keys.current;
    this.#next = keys.next;
    this.#previous = keys.previous;
  }

  /**
   * Loads the signing keys from the store, checking each is certified by this root (throws
   * otherwise: the root key file and the stored keys disagree). An empty store gets a current key
   * (`initialSigningSeed` or a new one) and a next key, both certified now. A current key whose
   * window has ended is rotated out at once.
   */
  static async open(options: CloudKeysOptions): Promise<CloudKeys> {
    const now = options.now ?? Date.now;
    const validityMs = options.signingKeyValidityMs ?? DEFAULT_SIGNING_KEY_VALIDITY_MS;
    if (!Number.isSafeInteger(validityMs) || validityMs <= 0) {
      throw new RangeError('the signing key validity is a positive number of ms');
    }
    const generate = options.generateSeed ?? generateEd25519Seed;
    const stored = await options.store.load();
    let keys: { current: HeldKey; next: HeldKey; previous: HeldKey[] };
    if (stored) {
      const hold = (key: StoredSigningKey, role: string) =>
        holdStoredKey(key, options.root.publicKey, role);
      keys = {
        current: await hold(stored.current, 'current'),
        next: await hold(stored.next, 'next'),
        previous: await Promise.all(stored.previous.map((key, i) => hold(key, `previous ${i}`))),
      };
    } else {
      const startMs = Math.floor(now());
      const window = { notBeforeMs: startMs, notAfterMs: startMs + validityMs };
      keys = {
        current: await certify(options.root, options.initialSigningSeed ?? generate(), window),
        next: await certify(options.root, generate(), window),
        previous: [],
      };
      await options.store.save(toStoredSet(keys));
    }
    const cloudKeys = new CloudKeys(options, keys);
    if (keys.current.info.notAfterMs < now()) await cloudKeys.rotate();
    else await cloudKeys.#dropRetired(true);
    return cloudKeys;
  }

  get rootPublicKey(): Uint8Array {
    return this.#root.publicKey;
  }

  /** The key that signs now. */
  get current(): SigningKeyInfo {
    return this.#current.info;
  }

  get next(): SigningKeyInfo {
    return this.#next.info;
  }

  /** Former current keys still kept, newest first. */
  get previous(): readonly SigningKeyInfo[] {
    return this.#previous.map((key) => key.info);
  }

  /** The current signing key as a Signer, for shared-protocol calls not wrapped here. */
  get signer(): Signer {
    return this.#current.signer;
  }

  /** The certificates module-link settings carry: current, then next. */
  moduleLinkCertificates(): Uint8Array[] {
    return [this.#current.info.certificate, this.#next.info.certificate];
  }

  /** A key ring holding every key kept (current, next, former): how the cloud checks its own. */
  async keyRing(): Promise<CloudKeyRing> {
    const certificates = [this.#current, this.#next, ...this.#previous].map(
      (key) => key.info.certificate,
    );
    const { ring } = await CloudKeyRing.fromCertificates(this.#root.publicKey, certificates);
    return ring;
  }

  /** The root certifies a signing key for a window (the only thing the root signs). */
  issueCloudKeyCertificate(
    publicKey: Uint8Array,
    window: { notBeforeMs: number; notAfterMs: number },
  ): Promise<Uint8Array> {
    if (publicKey.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
    if (window.notAfterMs <= window.notBeforeMs) throw new RangeError('the window ends first');
    return issueCloudKeyCertificate(this.#root, { publicKey, ...window });
  }

  /** Signs a cloud envelope (MQTT payload to one module) with the current key. */
  async signCloudEnvelope(request: CloudEnvelopeRequest): Promise<SignedEnvelope> {
    const id = request.id ?? randomBytes(ENVELOPE_ID_LENGTH);
    const issuedAtMs = this.#issueTime(request.issuedAtMs);
    const expiresAtMs =
      request.expiresAtMs ?? issuedAtMs + (request.expiresInMs ?? DEFAULT_COMMAND_EXPIRY_MS);
    const { signer } = this.#current;
    const bytes = await signCloudEnvelope(
      { id, moduleSerial: request.moduleSerial, issuedAtMs, expiresAtMs, body: request.body },
      signer,
    );
    return { id, bytes, issuedAtMs, expiresAtMs, signerKeyId: signer.keyId };
  }

  /** The module certificate (serial, identity key, VIN, issued at), signed by the current key. */
  issueModuleCertificate(fields: {
    moduleSerial: string;
    modulePublicKey: Uint8Array;
    vin: string;
    issuedAtMs?: number;
  }): Promise<Uint8Array> {
    if (fields.modulePublicKey.length !== 32) {
      throw new RangeError('a module identity key is 32 bytes');
    }
    return issueModuleCertificate(this.#current.signer, {
      ...fields,
      issuedAtMs: this.#issueTime(fields.issuedAtMs),
    });
  }

  issueServiceAuthorization(
    fields: Omit<ServiceAuthorizationFields, 'issuedAtMs'> & { issuedAtMs?: number },
  ): Promise<Uint8Array> {
    return issueServiceAuthorization(this.#current.signer, {
      ...fields,
      issuedAtMs: this.#issueTime(fields.issuedAtMs),
    });
  }

  /** A digital key; `issuedAtMs` defaults to now. */
  issueDigitalKey(fields: DigitalKeyFields): Promise<Uint8Array> {
    const issuedAtMs =
      fields.issuedAtMs === undefined
        ? this.#issueTime(undefined)
        : this.#issueTime(Number(fields.issuedAtMs));
    return issueDigitalKey(this.#current.signer, { ...fields, issuedAtMs: BigInt(issuedAtMs) });
  }

  issueRevocationList(fields: {
    moduleSerial: string;
    sequence: number;
    issuedAtMs?: number;
    revoked: RevocationEntry[];
  }): Promise<Uint8Array> {
    return issueRevocationList(this.#current.signer, {
      ...fields,
      issuedAtMs: this.#issueTime(fields.issuedAtMs),
    });
  }

  /**
   * Next becomes current, a new next key is certified, the former current key is kept for its
   * window; persisted before it takes effect. Rotations run one at a time.
   */
  rotate(): Promise<RotationResult> {
    const run = this.#rotating.then(() => this.#rotate());
    this.#rotating = run.catch(() => undefined);
    return run;
  }

  async #rotate(): Promise<RotationResult> {
    const nowMs = Math.floor(this.#now());
    const next = await certify(this.#root, this.#generateSeed(), {
      notBeforeMs: nowMs,
      notAfterMs: nowMs + this.#validityMs,
    });
    const candidates = [this.#current, ...this.#previous];
    const kept = candidates.filter((key) => !this.#isRetired(key, nowMs));
    const retired = candidates.filter((key) => this.#isRetired(key, nowMs));
    const keys = { current: this.#next, next, previous: kept };
    await this.#store.save(toStoredSet(keys));
    this.#current = keys.current;
    this.#next = keys.next;
    this.#previous = keys.previous;
    const retiredKeyIds = retired.map((key) => key.info.keyId);
    return {
      current: this.current,
      next: this.next,
      retiredKeyIds,
      announcement: {
        case: 'cloudKeyRotation',
        value: { cloudKeyCertificate: next.info.certificate, retiredKeyIds },
      },
    };
  }

  /** Former keys past their window and the retention are forgotten (and the store updated). */
  async #dropRetired(save: boolean): Promise<Uint8Array[]> {
    const nowMs = this.#now();
    const retired = this.#previous.filter((key) => this.#isRetired(key, nowMs));
    if (retired.length === 0) return [];
    this.#previous = this.#previous.filter((key) => !this.#isRetired(key, nowMs));
    if (save) {
      await this.#store.save(
        toStoredSet({ current: this.#current, next: this.#next, previous: this.#previous }),
      );
    }
    return retired.map((key) => key.info.keyId);
  }

  #isRetired(key: HeldKey, nowMs: number): boolean {
    return key.info.notAfterMs + this.#retainMs < nowMs;
  }

  /** The issue time to sign with: now by default; refused outside the current key's window. */
  #issueTime(issuedAtMs: number | undefined): number {
    const time = issuedAtMs ?? Math.floor(this.#now());
    const { notBeforeMs, notAfterMs, keyIdHex } = this.#current.info;
    if (!Number.isSafeInteger(time) || time < notBeforeMs || time > notAfterMs) {
      throw new RangeError(
        `issue time ${time} is outside signing key ${keyIdHex}'s window ${notBeforeMs}..${notAfterMs}: modules would refuse it`,
      );
    }
    return time;
  }
}

async function certify(
  root: Signer,
  seed: Uint8Array,
  window: { notBeforeMs: number; notAfterMs: number },
): Promise<HeldKey> {
  const signer = seedSigner(seed);
  const certificate = await issueCloudKeyCertificate(root, {
    publicKey: signer.publicKey,
    ...window,
  });
  return {
    stored: { seed: new Uint8Array(seed), certificate },
    signer,
    info: infoOf(signer, certificate, window),
  };
}

async function holdStoredKey(
  stored: StoredSigningKey,
  rootPublicKey: Uint8Array,
  role: string,
): Promise<HeldKey> {
  const signer = seedSigner(stored.seed);
  const verdict = await verifyCloudKeyCertificate(stored.certificate, rootPublicKey);
  if (!verdict.ok) {
    throw new Error(
      `The stored ${role} signing key ${toHex(signer.keyId)} is not usable: ${verdict.message}. ` +
        'Is the root key the one that certified the stored keys?',
    );
  }
  if (!bytesEqual(verdict.value.publicKey, signer.publicKey)) {
    throw new Error(`The stored ${role} signing key's certificate names another key`);
  }
  return { stored, signer, info: infoOf(signer, stored.certificate, verdict.value) };
}

function infoOf(
  signer: Signer,
  certificate: Uint8Array,
  window: { notBeforeMs: number; notAfterMs: number },
): SigningKeyInfo {
  return {
    keyId: signer.keyId,
    keyIdHex: toHex(signer.keyId),
    publicKey: signer.publicKey,
    certificate,
    notBeforeMs: window.notBeforeMs,
    notAfterMs: window.notAfterMs,
  };
}

const toStoredSet = (keys: {
  current: HeldKey;
  next: HeldKey;
  previous: HeldKey[];
}): SigningKeySet => ({
  current: keys.current.stored,
  next: keys.next.stored,
  previous: keys.previous.map((key) => key.stored),
});

/**
 * The app's one call: the root key and the initial signing key from a keys folder (the config's
 * `keysDir`, e.g. build/keys in development), the signing key set from the store.
 */
export async function openCloudKeys(
  options: { keysDir: string } & Omit<CloudKeysOptions, 'root' | 'initialSigningSeed'>,
): Promise<CloudKeys> {
  const { keysDir, ...rest } = options;
  const files = await loadCloudKeyFiles(keysDir);
  return CloudKeys.open({
    ...rest,
    root: files.root.signer,
    initialSigningSeed: files.signing.seed,
  });
}
