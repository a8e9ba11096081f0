/**
 * The module link inside the cloud app: starts the link (embedded aedes broker or any broker by
 * URL, per `config.mqtt`) on the database stores and the app's keys, tells provisioning where
 * modules connect (`context.moduleLinkEndpoint`, the embedded broker's real port once it
 * listens), tells every module that comes online the cloud's next signing key (a module offline
 * during a rotation catches up), exposes the running link as `app.moduleLink`, and closes it
 * when the app closes.
 *
 * Close order: Fastify runs onClose hooks last-registered first, after the HTTP server stopped
 * taking requests and those in flight finished; this hook is registered after buildApp's storage
 * hook, so the link (client, then embedded broker) closes before the store.
 */
import { PresenceState } from '@mini-sharing/shared-protocol/link';
import type { CloudPlugin, NamedCloudPlugin } from '../context.js';
import type { ModuleLinkConfig } from './config.js';
import {
  DatabaseModuleDirectory,
  DatabaseModuleReports,
  DatabaseRetainedState,
  type ModuleConnection,
} from './db-stores.js';
import { startModuleLink, type ModuleLink } from './module-link.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The running module link; undefined when the app runs without it (most route tests). */
    moduleLink: ModuleLink | undefined;
  }
}

export interface ModuleLinkPluginOptions {
  /**
   * Overrides of the link's settings on top of what `config.mqtt` gives (tests on a shared broker
   * set a unique client id and no persistent session; timings).
   */
  link?: Partial<ModuleLinkConfig>;
}

/** The plugin; `moduleLinkPlugin()` is what startCloud registers. */
export function moduleLinkPlugin(options: ModuleLinkPluginOptions = {}): NamedCloudPlugin {
  const plugin: CloudPlugin = async (app, { context }) => {
    const { storage, config, moduleLinkEndpoint } = context;
    const reports = new DatabaseModuleReports(storage.db);
    const now = () => context.now().getTime();
    const { moduleUrl, ...broker } = config.mqtt;
    const linkConfig: ModuleLinkConfig = {
      broker,
      ...(moduleUrl === undefined ? {} : { moduleBrokerUrl: moduleUrl }),
      ...(moduleLinkEndpoint.caCertificatePem === undefined
        ? {}
        : { moduleCaCertificatePem: moduleLinkEndpoint.caCertificatePem }),
      ...options.link,
    };
    const link = await startModuleLink({
      config: linkConfig,
      keys: context.keys,
      directory: new DatabaseModuleDirectory(storage.db),
      reports,
      state: new DatabaseRetainedState(storage.db, now),
      logger: app.log.child({ component: 'module-link' }),
      now,
    });
    moduleLinkEndpoint.brokerUrl = link.moduleBrokerUrl;

    // Connections the embedded broker holds, by the presences taken: they end when it stops.
    const online = new Map<string, Uint8Array>();
    let closing = false;
    link.onReport((report) => {
      if (report.kind !== 'presence') return;
      if (report.presence.state === PresenceState.ONLINE) {
        online.set(report.serial, report.presence.connectionId);
        if (!report.retained) announceSigningKeys(report.serial);
      } else {
        online.delete(report.serial);
      }
    });

    /**
     * A rotation's announcement is a command, so a module offline at the time missed it: every
     * module that comes online is told the current next key again (the module writes nothing when
     * it holds it already). Signed by the current key, which a module that missed one rotation
     * trusts as its "next"; one that missed two needs the workshop (re-provisioning).
     */
    function announceSigningKeys(serial: string): void {
      if (closing) return;
      link
        .publishCommand(serial, {
          case: 'cloudKeyRotation',
          value: { cloudKeyCertificate: context.keys.next.certificate, retiredKeyIds: [] },
        })
        .catch((error: unknown) => {
          if (!closing) {
            app.log.warn({ serial, err: String(error) }, 'module link: key announcement failed');
          }
        });
    }

    app.decorate('moduleLink', link);
    app.addHook('onClose', async () => {
      closing = true;
      await link.close();
      if (link.embeddedBroker && online.size > 0) {
        const connections: ModuleConnection[] = [...online].map(([serial, connectionId]) => ({
          serial,
          connectionId,
        }));
        await reports.markConnectionsLost(connections, now());
      }
      app.log.info('module link closed');
    });
    app.log.info(
      { brokerUrl: link.moduleBrokerUrl, embedded: link.embeddedBroker !== undefined },
      `module link: modules connect to ${link.moduleBrokerUrl}`,
    );
  };
  // Not encapsulated (what fastify-plugin does): the decorator and the close hook sit on the app.
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return { name: 'module-link', plugin };
}
