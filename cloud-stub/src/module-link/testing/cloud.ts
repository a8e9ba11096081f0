/**
 * For tests only: a cloud's module link with in-memory keys, directory and reports on an
 * embedded broker (any free port) or a broker by URL.
 */
import { seedSigner } from '@mini-sharing/shared-protocol/crypto';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { CloudKeys } from '../../keys/cloud-keys.js';
import { InMemoryKeyStore } from '../../keys/key-store.js';
import type { ModuleLinkConfig } from '../config.js';
import { InMemoryModuleDirectory } from '../directory.js';
import {
  startModuleLink,
  type LinkDrop,
  type ModuleLink,
  type RetainedStateSource,
} from '../module-link.js';
import { InMemoryModuleReports } from '../reports.js';
import { testLogger, type LogLine } from './logger.js';

export interface TestCloud {
  keys: CloudKeys;
  directory: InMemoryModuleDirectory;
  reports: InMemoryModuleReports;
  link: ModuleLink;
  drops: LinkDrop[];
  lines: LogLine[];
  /** Drop reasons for one serial, in order. */
  dropsFor(serial: string): string[];
  close(): Promise<void>;
}

export async function startTestCloud(
  options: {
    config?: ModuleLinkConfig;
    keys?: CloudKeys;
    directory?: InMemoryModuleDirectory;
    reports?: InMemoryModuleReports;
    state?: RetainedStateSource;
  } = {},
): Promise<TestCloud> {
  const keys =
    options.keys ??
    (await CloudKeys.open({
      root: seedSigner(testSeed('cloud root')),
      store: new InMemoryKeyStore(),
    }));
  const directory = options.directory ?? new InMemoryModuleDirectory();
  const reports = options.reports ?? new InMemoryModuleReports();
  const { logger, lines } = testLogger();
  const link = await startModuleLink({
    config: options.config ?? { broker: { mode: 'embedded', port: 0 } },
    keys,
    directory,
    reports,
    logger,
    ...(options.state ? { state: options.state } : {}),
  });
  const drops: LinkDrop[] = [];
  link.onDrop((drop) => drops.push(drop));
  return {
    keys,
    directory,
    reports,
    link,
    drops,
    lines,
    dropsFor: (serial) => drops.filter((d) => d.serial === serial).map((d) => d.reason),
    close: () => link.close(),
  };
}
