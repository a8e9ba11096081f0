/**
 * Password hashing with scrypt (node:crypto; memory-hard, no native addon). Parameters: N = 2^15,
 * r = 8, p = 1 (32 MiB of memory per hash, about 50-100 ms on a server core), a 16-byte random
 * salt and a 32-byte key. The parameters are stored with each hash, so raising them later still
 * verifies old hashes (and `needsRehash` says which to upgrade at the next sign-in).
 *
 *   scrypt$<log2 N>$<r>$<p>$<salt, base64url>$<key, base64url>
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParameters {
  /** log2 of the cost N. */
  logN: number;
  r: number;
  p: number;
}

export const PASSWORD_HASH_PARAMETERS: ScryptParameters = { logN: 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Memory scrypt needs is 128 * N * r * p bytes; allow twice that (Node's default is 32 MiB). */
const maxmem = ({ logN, r, p }: ScryptParameters): number => 2 * 128 * 2 ** logN * r * p;

function derive(password: string, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = {
    N: 2 ** parameters.logN,
    r: parameters.r,
    p: parameters.p,
    maxmem: maxmem(parameters),
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(
  password: string,
  parameters: ScryptParameters = PASSWORD_HASH_PARAMETERS,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, parameters);
  const { logN, r, p } = parameters;
  return `scrypt$${logN}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function parse(hash: string): { parameters: ScryptParameters; salt: Buffer; key: Buffer } | null {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![logN, r, p].every(Number.isInteger) || logN < 1 || logN > 22 || r < 1 || p < 1) {
    return null;
  }
  return {
    parameters: { logN, r, p },
    salt: Buffer.from(parts[4]!, 'base64url'),
    key: Buffer.from(parts[5]!, 'base64url'),
  };
}

/** Whether `password` is the one `hash` was made from (constant-time comparison). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parse(hash);
  if (!parsed || parsed.key.length !== KEY_BYTES) return false;
  const key = await derive(password, parsed.salt, parsed.parameters);
  return timingSafeEqual(key, parsed.key);
}

/** Whether a hash was made with weaker parameters than today's. */
export function needsRehash(hash: string): boolean {
  const parsed = parse(hash);
  if (!parsed) return true;
  const { logN, r, p } = parsed.parameters;
  const want = PASSWORD_HASH_PARAMETERS;
  return logN < want.logN || r < want.r || p < want.p;
}

let dummy: Promise<string> | undefined;
/**
 * A hash of nothing anyone knows: a sign-in with an unknown e-mail verifies against it, so it
 * takes as long as one with a wrong password and the timing does not tell which it was.
 */
export const dummyPasswordHash = (): Promise<string> =>
  (dummy ??= hashPassword(randomBytes(16).toString('hex')));
