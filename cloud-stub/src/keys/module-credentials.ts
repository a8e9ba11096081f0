/**
 * A module's MQTT credentials (PROTOCOL.md 16.1): generated when the module is registered and
 * written into its module-link settings at provisioning. The cloud stores only a hash of the
 * password; the embedded broker checks a module's CONNECT against it.
 *
 * The password is 32 random bytes (base64url) the cloud makes, never a person's choice, so the
 * hash only has to keep a stolen database from yielding working credentials: a salted SHA-256 of
 * 256 random bits cannot be guessed back, and a slow hash (scrypt, as people's passwords get in
 * accounts/passwords.ts) would add nothing but cost — about 60 ms of CPU per registration and per
 * broker login, minutes of CPU when thousands of modules reconnect after a broker restart. So
 * hashModulePassword refuses anything shorter than such a password. Hashes written by the first
 * version (scrypt) still verify.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';

export interface ModuleCredentials {
  /** The module serial (the embedded broker requires username = client id = serial). */
  username: string;
  password: string;
}

const SCHEME = 'sha256';
/** The first version's scheme, still verified. */
const SCRYPT_SCHEME = 'scrypt';
const PARAMS = { N: 16_384, r: 8, p: 1 } as const;
/** base64url of 32 random bytes: the shortest password this hash is fit for. */
const MIN_PASSWORD_LENGTH = 43;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Hashes are at most this long; longer input is refused unread. */
const MAX_PASSWORD_LENGTH = 1024;

function scrypt(
  password: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(
      password,
      salt,
      KEY_LENGTH,
      { ...params, maxmem: 256 * params.N * params.r },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

const sha256 = (salt: Buffer, password: string): Buffer =>
  createHash('sha256').update(salt).update(password, 'utf8').digest();

/** `sha256:salt:hash` (base64url). Only for generated passwords (32 random bytes or more). */
export function hashModulePassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(
      `a module password is a generated secret of ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
  const salt = randomBytes(SALT_LENGTH);
  return [SCHEME, salt.toString('base64url'), sha256(salt, password).toString('base64url')].join(
    ':',
  );
}

/** Whether `password` matches a stored hash. Never throws: a malformed hash matches nothing. */
export async function verifyModulePassword(
  password: string | Uint8Array | undefined,
  storedHash: string | undefined,
): Promise<boolean> {
  try {
    if (password === undefined || storedHash === undefined) return false;
    const text = typeof password === 'string' ? password : Buffer.from(password).toString('utf8');
    if (text.length === 0 || text.length > MAX_PASSWORD_LENGTH) return false;
    const parts = storedHash.split(':');
    if (parts[0] === SCHEME && parts.length === 3) {
      const salt = Buffer.from(parts[1] ?? '', 'base64url');
      const expected = Buffer.from(parts[2] ?? '', 'base64url');
      if (salt.length !== SALT_LENGTH || expected.length !== KEY_LENGTH) return false;
      return timingSafeEqual(sha256(salt, text), expected);
    }
    if (parts[0] !== SCRYPT_SCHEME || parts.length !== 6) return false;
    const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
    // Only the parameters the first version wrote: a tampered hash cannot make the broker burn
    // memory.
    if (N !== PARAMS.N || r !== PARAMS.r || p !== PARAMS.p) return false;
    const salt = Buffer.from(parts[4] ?? '', 'base64url');
    const expected = Buffer.from(parts[5] ?? '', 'base64url');
    if (salt.length !== SALT_LENGTH || expected.length !== KEY_LENGTH) return false;
    const actual = await scrypt(text, salt, { N, r, p });
    return timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

/** New credentials for a module, and the hash to store instead of the password. */
export async function generateModuleCredentials(
  moduleSerial: string,
): Promise<{ credentials: ModuleCredentials; passwordHash: string }> {
  const password = randomBytes(32).toString('base64url');
  return {
    credentials: { username: moduleSerial, password },
    passwordHash: hashModulePassword(password),
  };
}
