import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateModuleCredentials,
  hashModulePassword,
  verifyModulePassword,
} from './module-credentials.js';

describe('module credentials', () => {
  it('generates a random password per module and stores only its salted SHA-256', async () => {
    const a = await generateModuleCredentials('MSM-24-001234-3');
    const b = await generateModuleCredentials('MSM-24-001234-3');
    expect(a.credentials.username).toBe('MSM-24-001234-3');
    expect(a.credentials.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.credentials.password).not.toBe(b.credentials.password);
    expect(a.passwordHash).toMatch(/^sha256:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{43}$/);
    expect(a.passwordHash).not.toContain(a.credentials.password);
    // Salted: the same password hashes differently each time.
    expect(hashModulePassword(a.credentials.password)).not.toBe(a.passwordHash);
    expect(await verifyModulePassword(a.credentials.password, a.passwordHash)).toBe(true);
    expect(await verifyModulePassword(Buffer.from(a.credentials.password), a.passwordHash)).toBe(
      true,
    );
    expect(await verifyModulePassword(b.credentials.password, a.passwordHash)).toBe(false);
  });

  it('hashes only generated secrets: a short, guessable password is refused', () => {
    for (const password of ['', 'secret', 'x'.repeat(42), 'x'.repeat(1025)]) {
      expect(() => hashModulePassword(password)).toThrow(RangeError);
    }
  });

  it('still verifies the scrypt hashes of the first version, with its parameters only', async () => {
    const password = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const scryptHash = (N: number) =>
      [
        'scrypt',
        N,
        8,
        1,
        salt.toString('base64url'),
        scryptSync(password, salt, 32, { N, r: 8, p: 1 }).toString('base64url'),
      ].join(':');
    expect(await verifyModulePassword(password, scryptHash(16_384))).toBe(true);
    expect(await verifyModulePassword(`${password}x`, scryptHash(16_384))).toBe(false);
    // Other parameters (a tampered row) match nothing: no cheaper or costlier work.
    expect(await verifyModulePassword(password, scryptHash(1024))).toBe(false);
  });

  it('never throws and matches nothing for a missing, malformed or tampered hash', async () => {
    const secret = randomBytes(32).toString('base64url');
    const hash = hashModulePassword(secret);
    const [scheme, salt, digest] = hash.split(':') as [string, string, string];
    const flipped = `${digest.slice(0, -1)}${digest.endsWith('A') ? 'B' : 'A'}`;
    for (const stored of [
      undefined,
      '',
      'sha256',
      'bcrypt:1:2',
      `${scheme}:${salt}:${flipped}`,
      `${scheme}:${salt.slice(2)}:${digest}`,
      `${hash}x`,
      `${hash}:extra`,
    ]) {
      expect(await verifyModulePassword(secret, stored)).toBe(false);
    }
    expect(await verifyModulePassword(undefined, hash)).toBe(false);
    expect(await verifyModulePassword('', hash)).toBe(false);
    expect(await verifyModulePassword('x'.repeat(5000), hash)).toBe(false);
  });
});
