/**
 * Where the cloud keeps its signing keys across restarts: the current key, the next one (already
 * certified and handed to modules, so a rotation needs nothing new at the car) and the former
 * ones, kept while what they signed may still be in use. The root key is not stored here: it
 * comes from its key file at start.
 *
 * The interface is deliberately narrow (load everything, save everything) so a database-backed
 * store is a table with one row. Implementations: in memory (tests) and one JSON file.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ED25519_SEED_LENGTH, fromHex, toHex } from '@mini-sharing/shared-protocol/crypto';

export interface StoredSigningKey {
  /** The Ed25519 seed (private key). */
  seed: Uint8Array;
  /** Encoded Signed CloudKeyCertificate, signed by the root key. */
  certificate: Uint8Array;
}

export interface SigningKeySet {
  /** Signs everything the cloud issues now. */
  current: StoredSigningKey;
  /** Becomes current at the next rotation; modules already trust it. */
  next: StoredSigningKey;
  /** Former current keys, newest first; kept until what they signed has expired. */
  previous: StoredSigningKey[];
}

export interface KeyStore {
  /** Undefined when nothing was saved yet. Throws when what is stored cannot be read. */
  load(): Promise<SigningKeySet | undefined>;
  /** Replaces the stored set as a whole (atomically where the medium allows). */
  save(set: SigningKeySet): Promise<void>;
}

const copyKey = (key: StoredSigningKey): StoredSigningKey => ({
  seed: new Uint8Array(key.seed),
  certificate: new Uint8Array(key.certificate),
});
const copySet = (set: SigningKeySet): SigningKeySet => ({
  current: copyKey(set.current),
  next: copyKey(set.next),
  previous: set.previous.map(copyKey),
});

export class InMemoryKeyStore implements KeyStore {
  #set: SigningKeySet | undefined;
  /** How many times save() ran (tests check that a rotation persists). */
  saves = 0;

  async load(): Promise<SigningKeySet | undefined> {
    return this.#set && copySet(this.#set);
  }

  async save(set: SigningKeySet): Promise<void> {
    this.#set = copySet(set);
    this.saves += 1;
  }
}

interface FileKey {
  seed: string;
  certificate: string;
}
interface FileDocument {
  warning: string;
  version: 1;
  current: FileKey;
  next: FileKey;
  previous: FileKey[];
}

const HEX = /^(?:[0-9a-f]{2})*$/;

function readFileKey(value: unknown, where: string): StoredSigningKey {
  const key = value as Partial<FileKey> | null;
  if (
    typeof key !== 'object' ||
    key === null ||
    typeof key.seed !== 'string' ||
    key.seed.length !== 2 * ED25519_SEED_LENGTH ||
    !HEX.test(key.seed) ||
    typeof key.certificate !== 'string' ||
    key.certificate.length === 0 ||
    !HEX.test(key.certificate)
  ) {
    throw new Error(`${where} is not a signing key (hex seed and certificate)`);
  }
  return { seed: fromHex(key.seed), certificate: fromHex(key.certificate) };
}

const writeFileKey = (key: StoredSigningKey): FileKey => ({
  seed: toHex(key.seed),
  certificate: toHex(key.certificate),
});

/** The set as a JSON document (file and database stores keep the same text). */
export function keySetDocument(set: SigningKeySet): string {
  const document: FileDocument = {
    warning: 'PRIVATE: the cloud signing keys. Never commit or share this document.',
    version: 1,
    current: writeFileKey(set.current),
    next: writeFileKey(set.next),
    previous: set.previous.map(writeFileKey),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Reads keySetDocument's text; throws naming `where` when it is not one. */
export function parseKeySetDocument(text: string, where: string): SigningKeySet {
  let document: Partial<FileDocument>;
  try {
    document = JSON.parse(text) as Partial<FileDocument>;
  } catch (error) {
    throw new Error(`${where} is not JSON: the cloud's signing keys cannot be read`, {
      cause: error,
    });
  }
  if (document.version !== 1 || !Array.isArray(document.previous)) {
    throw new Error(`${where} is not a signing key document of version 1`);
  }
  return {
    current: readFileKey(document.current, `${where}: current`),
    next: readFileKey(document.next, `${where}: next`),
    previous: document.previous.map((key, i) => readFileKey(key, `${where}: previous[${i}]`)),
  };
}

/**
 * One JSON file, readable only by its owner, replaced atomically (written beside it, then
 * renamed), so a crash during a rotation leaves the old set or the new one.
 */
export class FileKeyStore implements KeyStore {
  constructor(readonly path: string) {}

  async load(): Promise<SigningKeySet | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`Cannot read the signing keys in ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return parseKeySetDocument(text, this.path);
  }

  async save(set: SigningKeySet): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, keySetDocument(set), { mode: 0o600 });
    await rename(temporary, this.path);
  }
}
