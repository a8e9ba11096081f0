#!/usr/bin/env -S node --import tsx
/**
 * cloud-stub's command line:
 *
 *   cloud-stub serve [--no-seed] [--no-module-link] [--port N] [--host H] [storage flags]
 *   cloud-stub migrate [storage flags]
 *   cloud-stub seed <file>... [storage flags]
 *   cloud-stub test-token <customer|mechanic|dealer-admin|agent> [--account ID] [--dealer ID]
 *
 * Storage flags: --engine sqlite|postgres, --sqlite-file PATH (or :memory:), --postgres-url URL.
 * Everything else comes from CLOUD_STUB_* environment variables (README), then the defaults.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { isRole } from '@mini-sharing/shared-protocol/api';
import { ConfigError, resolveConfig, type CloudConfig, type CloudConfigInput } from './config.js';
import { releaseKeysOf } from './firmware/release-keys.js';
import type { Principal } from './http/auth.js';
import { TEST_PRINCIPAL_HEADER, signTestToken } from './http/test-tokens.js';
import { describeSeedReport, seedFromFiles } from './seed/seed.js';
import { SeedFileError } from './seed/seed-files.js';
import { closeOnSignals, startCloud } from './server.js';
import { migrateToLatest, openStorage } from './storage/storage.js';

const USAGE = `usage:
  cloud-stub serve [--no-seed] [--no-module-link] [--host H] [--port N] [storage flags]
  cloud-stub migrate [storage flags]
  cloud-stub seed <file>... [storage flags]
  cloud-stub test-token <customer|mechanic|dealer-admin|agent> [--account ID] [--dealer ID]
storage flags: --engine sqlite|postgres  --sqlite-file PATH|:memory:  --postgres-url URL
the module link's broker: CLOUD_STUB_MQTT_PORT (embedded, default 1884) or CLOUD_STUB_MQTT_URL
seed files: a workshop directory (cloud-stub/seed/directory.json), a fleet file
  (shared-protocol/src/vehicle/example-fleet.json), a firmware catalog
  (cloud-stub/seed/firmware-catalog.json) or .msfw images`;

const OPTIONS = {
  engine: { type: 'string' },
  'sqlite-file': { type: 'string' },
  'postgres-url': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'no-seed': { type: 'boolean' },
  'no-module-link': { type: 'boolean' },
  account: { type: 'string' },
  dealer: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

function configFromFlags(flags: Flags): CloudConfig {
  const input: CloudConfigInput = {};
  if (flags.engine === 'postgres' || (flags.engine === undefined && flags['postgres-url'])) {
    input.storage = {
      engine: 'postgres',
      ...(flags['postgres-url'] === undefined ? {} : { url: flags['postgres-url'] }),
    };
  } else if (flags.engine === 'sqlite' || flags['sqlite-file'] !== undefined) {
    input.storage = {
      engine: 'sqlite',
      ...(flags['sqlite-file'] === undefined ? {} : { file: flags['sqlite-file'] }),
    };
  } else if (flags.engine !== undefined) {
    throw new ConfigError(
      `--engine must be sqlite or postgres, is ${JSON.stringify(flags.engine)}`,
    );
  }
  if (flags.host !== undefined || flags.port !== undefined) {
    input.http = {
      ...(flags.host === undefined ? {} : { host: flags.host }),
      ...(flags.port === undefined
        ? {}
        : { port: /^\d+$/.test(flags.port) ? Number(flags.port) : NaN }),
    };
  }
  return resolveConfig(input);
}

async function serve(flags: Flags): Promise<void> {
  const config = configFromFlags(flags);
  const cloud = await startCloud(config, {
    seedWhenEmpty: !flags['no-seed'],
    moduleLink: !flags['no-module-link'],
  });
  closeOnSignals(cloud);
}

async function migrate(flags: Flags): Promise<void> {
  const config = configFromFlags(flags);
  const storage = openStorage(config.storage);
  try {
    const applied = await migrateToLatest(storage);
    console.log(
      applied.length === 0
        ? `${storage.location}: already at the latest migration`
        : `${storage.location}: applied ${applied.join(', ')}`,
    );
  } finally {
    await storage.close();
  }
}

async function seed(flags: Flags, files: string[]): Promise<void> {
  if (files.length === 0) throw new UsageError('seed needs at least one file');
  const config = configFromFlags(flags);
  const storage = openStorage(config.storage);
  try {
    await migrateToLatest(storage);
    const report = await seedFromFiles(storage.db, files, {
      releaseKeys: releaseKeysOf(config),
      now: () => new Date(),
    });
    console.log(`${storage.location}: ${describeSeedReport(report)}`);
  } finally {
    await storage.close();
  }
}

function testToken(flags: Flags, args: string[]): void {
  const role = args[0];
  if (!isRole(role))
    throw new UsageError('test-token needs a role: customer, mechanic, dealer-admin or agent');
  const secret = process.env.CLOUD_STUB_TEST_TOKEN_SECRET;
  if (!secret)
    throw new UsageError(
      'set CLOUD_STUB_TEST_TOKEN_SECRET (the same as the server was started with)',
    );
  const accountId = flags.account ?? `${role}-1`;
  let principal: Principal;
  if (role === 'mechanic' || role === 'dealer-admin') {
    if (!flags.dealer) throw new UsageError(`a ${role} acts for a dealer: add --dealer ID`);
    principal = { role, accountId, dealerId: flags.dealer };
  } else {
    principal = { role, accountId };
  }
  console.log(`${TEST_PRINCIPAL_HEADER}: ${signTestToken(secret, principal)}`);
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { values: flags, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
  });
  const [command, ...rest] = positionals;
  if (flags.help || command === undefined) {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case 'serve':
      return serve(flags);
    case 'migrate':
      return migrate(flags);
    case 'seed':
      return seed(flags, rest);
    case 'test-token':
      return testToken(flags, rest);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (
    error instanceof UsageError ||
    (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
  ) {
    console.error(`cloud-stub: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof ConfigError || error instanceof SeedFileError) {
    console.error(`cloud-stub: ${error.message}`);
    process.exit(1);
  }
  pino().fatal({ err: error }, 'cloud-stub failed');
  process.exit(1);
});
