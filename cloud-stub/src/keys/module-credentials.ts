/**
 * A module's MQTT credentials (PROTOCOL.md 16.1): generated when the module is registered and
 * written into its module-link settings at provisioning. The cloud stores only a scrypt hash of
 * the password; the embedded broker checks a module's CONNECT against it.
 *
 * The password is 32 random bytes (base64url), so the hash only has to keep a stolen database
 * from yielding working credentials; scrypt's cost is a margin on top.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';

export interface ModuleCredentials {
  /** The module serial (the embedded broker requires username = client id = serial). */
  username: string;
  password: string;
}

const SCHEME = 'scrypt';
const PARAMS = { N: 16_384, r: 8, p: 1 } as const;
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

/** `scrypt:N:r:p:salt:hash` (salt and hash base64url). */
export async function hashModulePassword(password: string): Promise<string> {
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
    throw new RangeError('a module password is 1 to 1024 characters');
  }
  const salt = randomBytes(SALT_LENGTH);
  const hash = await scrypt(password, salt, PARAMS);
  return [
    SCHEME,
    PARAMS.N,
    PARAMS.r,
    PARAMS.p,
    salt.toString('base64url'),
    hash.toString('base64url'),
  ].join(':');
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
    if (parts.length !== 6 || parts[0] !== SCHEME) return false;
    const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
    // Only parameters this code writes: a tampered hash cannot make the broker burn memory.
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
    passwordHash: await hashModulePassword(password),
  };
}
