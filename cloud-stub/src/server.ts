/**
 * Running the cloud: build the app, seed an empty store when asked, listen, and stop gracefully
 * on SIGTERM/SIGINT: stop accepting, let requests in flight finish, then close the plugins (the
 * module link's broker) and the store. A second signal, or a close that hangs, ends the process.
 */
import { buildApp, type BuildAppOptions, type CloudApp } from './app.js';
import type { CloudConfig } from './config.js';
import { releaseKeysOf } from './firmware/release-keys.js';
import type { ModuleLink } from './module-link/module-link.js';
import { moduleLinkPlugin } from './module-link/plugin.js';
import { seedDefaultsIfEmpty } from './seed/defaults.js';

export interface RunningCloud extends CloudApp {
  /** http://host:port */
  url: string;
  /** The module link (MQTT), unless started without it. */
  moduleLink: ModuleLink | undefined;
  close(): Promise<void>;
}

export async function startCloud(
  config: CloudConfig,
  options: BuildAppOptions & {
    seedWhenEmpty?: boolean;
    /** Default true: run the module link (its broker per config.mqtt) with the HTTP API. */
    moduleLink?: boolean;
  } = {},
): Promise<RunningCloud> {
  const cloud = await buildApp(config, {
    ...options,
    plugins: [
      ...(options.moduleLink === false ? [] : [moduleLinkPlugin()]),
      ...(options.plugins ?? []),
    ],
  });
  const { app, context } = cloud;
  try {
    if (options.seedWhenEmpty) {
      await seedDefaultsIfEmpty(context.storage, {
        releaseKeys: releaseKeysOf(config),
        now: context.now,
        log: app.log,
      });
    }
    const url = await app.listen({ host: config.http.host, port: config.http.port });
    app.log.info(
      `cloud-stub serving ${url} (store: ${context.storage.location}); API document at ${url}/openapi.json` +
        (app.moduleLink ? `; modules connect to ${app.moduleLink.moduleBrokerUrl}` : ''),
    );
    return { ...cloud, url, moduleLink: app.moduleLink, close: () => app.close() };
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** How long a graceful close may take before the process ends anyway. */
const CLOSE_TIMEOUT_MS = 10_000;

export function closeOnSignals(cloud: RunningCloud): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      cloud.app.log.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    cloud.app.log.info(
      `${signal}: closing (requests in flight finish, then the broker and the store)`,
    );
    const timer = setTimeout(() => {
      cloud.app.log.error(`close took over ${CLOSE_TIMEOUT_MS} ms: exiting`);
      process.exit(1);
    }, CLOSE_TIMEOUT_MS);
    timer.unref();
    cloud.close().then(
      () => process.exit(0),
      (error: unknown) => {
        cloud.app.log.error({ err: error }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
