/**
 * Test helpers: a configuration that ignores the environment, an app around a test store, test
 * tokens for every kind of caller, and signed firmware images made on the spot.
 */
import { seedSigner, type Signer } from '@mini-sharing/shared-protocol/crypto';
import { buildFirmwareImage } from '@mini-sharing/shared-protocol/firmware-image';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { developmentSigner } from '@mini-sharing/build/keys';
import { buildApp, type CloudApp } from '../src/app.js';
import { resolveConfig, type CloudConfig, type CloudConfigInput } from '../src/config.js';
import type { Principal } from '../src/http/auth.js';
import { TEST_PRINCIPAL_HEADER, signTestToken } from '../src/http/test-tokens.js';
import type { Storage } from '../src/storage/storage.js';

export const TEST_TOKEN_SECRET = 'cloud-stub test token secret';

/** A config from `input` and the defaults only (the process environment is ignored). */
export function testConfig(input: CloudConfigInput = {}): CloudConfig {
  return resolveConfig(
    {
      storage: { engine: 'sqlite', file: ':memory:' },
      log: { level: 'silent' },
      auth: { testTokenSecret: TEST_TOKEN_SECRET },
      ...input,
    },
    {},
  );
}

export const TEST_NOW = new Date('2026-06-01T12:00:00.000Z');

export async function testApp(storage: Storage, input: CloudConfigInput = {}): Promise<CloudApp> {
  return buildApp(testConfig(input), { storage, logger: false, now: () => TEST_NOW });
}

export const PRINCIPALS = {
  customer: { role: 'customer', accountId: 'customer-1' },
  mechanic: { role: 'mechanic', accountId: 'mechanic-1', dealerId: 'DLR-DE-MUC-01' },
  'dealer-admin': { role: 'dealer-admin', accountId: 'admin-1', dealerId: 'DLR-DE-MUC-01' },
  agent: { role: 'agent', accountId: 'agent-1' },
} as const satisfies Record<string, Principal>;

export type CallerKind = keyof typeof PRINCIPALS | 'anonymous';
export const CALLER_KINDS: readonly CallerKind[] = [
  'anonymous',
  'customer',
  'mechanic',
  'dealer-admin',
  'agent',
];

/** Headers that make a request come from `who`. */
export function as(who: CallerKind): Record<string, string> {
  if (who === 'anonymous') return {};
  return { [TEST_PRINCIPAL_HEADER]: signTestToken(TEST_TOKEN_SECRET, PRINCIPALS[who]) };
}

/** The development release key: what the default configuration trusts. */
export const releaseSigner = (): Signer => developmentSigner('release');
/** A key the cloud does not trust. */
export const strangerSigner = (): Signer => seedSigner(testSeed('not a release key'));

export async function makeImage(
  options: {
    version?: [number, number, number];
    hardwareRevisions?: string[];
    securityCounter?: number;
    payload?: string;
    signer?: Signer;
  } = {},
): Promise<Uint8Array> {
  const [major, minor, patch] = options.version ?? [1, 2, 3];
  return buildFirmwareImage(
    {
      hardwareRevisions: options.hardwareRevisions ?? ['HW-B', 'HW-C'],
      version: { major, minor, patch },
      securityCounter: options.securityCounter ?? 2,
      payload: new TextEncoder().encode(options.payload ?? `firmware ${major}.${minor}.${patch}`),
    },
    options.signer ?? releaseSigner(),
  );
}

/** A vehicle order every route test can use: a 5GE MINI, and one without. */
export const ORDER_5GE = {
  vin: 'WMW31DH0302S71642',
  model: 'MINI Cooper SE 3-door',
  market: 'DE',
  productionDate: '2024-03-12',
  optionCodes: ['2VB', '534', '5GE', '6AC'],
};
export const ORDER_NO_5GE = {
  vin: 'WMW51DK0X02R13377',
  model: 'MINI Cooper 5-door',
  market: 'AT',
  productionDate: '2023-09-04',
  optionCodes: ['534', '6AC'],
};
