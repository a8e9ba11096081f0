import { describe, expect, it } from 'vitest';
import {
  generateModuleCredentials,
  hashModulePassword,
  verifyModulePassword,
} from './module-credentials.js';

describe('module credentials', () => {
  it('generates a random password per module and stores only its scrypt hash', async () => {
    const a = await generateModuleCredentials('MSM-24-001234-3');
    const b = await generateModuleCredentials('MSM-24-001234-3');
    expect(a.credentials.username).toBe('MSM-24-001234-3');
    expect(a.credentials.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.credentials.password).not.toBe(b.credentials.password);
    expect(a.passwordHash).toMatch(/^scrypt:16384:8:1:/);
    expect(a.passwordHash).not.toContain(a.credentials.password);
    expect(await verifyModulePassword(a.credentials.password, a.passwordHash)).toBe(true);
    expect(await verifyModulePassword(Buffer.from(a.credentials.password), a.passwordHash)).toBe(
      true,
    );
    expect(await verifyModulePassword(b.credentials.password, a.passwordHash)).toBe(false);
  });

  it('never throws and matches nothing for a missing, malformed or tampered hash', async () => {
    const hash = await hashModulePassword('secret');
    const parts = hash.split(':');
    const cheaper = [parts[0], 1024, ...parts.slice(2)].join(':');
    for (const stored of [undefined, '', 'scrypt', 'bcrypt:1:2:3:4:5', cheaper, `${hash}x`]) {
      expect(await verifyModulePassword('secret', stored)).toBe(false);
    }
    expect(await verifyModulePassword(undefined, hash)).toBe(false);
    expect(await verifyModulePassword('', hash)).toBe(false);
    expect(await verifyModulePassword('x'.repeat(5000), hash)).toBe(false);
    await expect(hashModulePassword('')).rejects.toThrow(RangeError);
  });
});
