/**
 * The cloud as a Fastify app: TypeBox schemas from the contract (shared-protocol/api), pino logs,
 * one error shape, access control on every route, the OpenAPI document at /openapi.json, and one
 * plugin per domain. The app file only wires; the domains live in their plugins.
 */
import fastify, { type FastifyServerOptions } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { API_VERSION, getOpenApiDocument } from '@mini-sharing/shared-protocol/api';
import type { CloudConfig } from './config.js';
import type { CloudContext, CloudServer, ModuleLinkEndpoint, NamedCloudPlugin } from './context.js';
import { accountsPlugin } from './accounts/plugin.js';
import { bearerAuthenticator } from './accounts/authenticate.js';
import { firmwarePlugin } from './firmware/plugin.js';
import { grantsPlugin } from './grants/plugin.js';
import { healthPlugin } from './health/plugin.js';
import { installationPlugin } from './installation/plugin.js';
import { lookupsPlugin } from './lookups/plugin.js';
import { modulesPlugin } from './modules/plugin.js';
import { installStationSignatures, StationRequestVerifier } from './stations/signature.js';
import { stationsPlugin } from './stations/plugin.js';
import { installAccessControl, type Authenticate } from './http/auth.js';
import { errorHandler, notFoundHandler } from './http/errors.js';
import { routeOptions } from './http/routes.js';
import { TEST_PRINCIPAL_HEADER, testTokenAuthenticator } from './http/test-tokens.js';
import { validatorCompiler } from './http/validation.js';
import { migrateToLatest, openStorage, type Storage } from './storage/storage.js';
import { openCloudKeys } from './keys/cloud-keys.js';
import { DatabaseKeyStore } from './keys/db-key-store.js';
import { vehiclesPlugin } from './vehicles/plugin.js';

/** The domains, in registration order. */
export const DOMAIN_PLUGINS: readonly NamedCloudPlugin[] = [
  { name: 'health', plugin: healthPlugin },
  { name: 'accounts', plugin: accountsPlugin },
  { name: 'stations', plugin: stationsPlugin },
  { name: 'vehicles', plugin: vehiclesPlugin },
  { name: 'firmware', plugin: firmwarePlugin },
  { name: 'modules', plugin: modulesPlugin },
  { name: 'grants', plugin: grantsPlugin },
  { name: 'installation', plugin: installationPlugin },
  { name: 'lookups', plugin: lookupsPlugin },
];

export interface BuildAppOptions {
  /** A store already open and migrated (tests); otherwise the app opens, migrates and closes one. */
  storage?: Storage;
  /** Who is calling; default: access tokens from sign-in, and test tokens when configured. */
  authenticate?: Authenticate;
  /**
   * More plugins after the domains: the module link registers here (its MQTT broker, embedded
   * or external per config.mqtt, opens in its plugin and closes in the plugin's onClose hook, so
   * app.close() stops HTTP first, then the broker, then the store).
   */
  plugins?: readonly NamedCloudPlugin[];
  /** The clock; default the system's. */
  now?: () => Date;
  /** Fastify's logger setting; default pino at config.log.level. */
  logger?: FastifyServerOptions['logger'];
}

/** A route as registered (HEAD routes Fastify adds for GETs included). */
export interface RegisteredRoute {
  method: string;
  url: string;
  schema: Record<string, unknown> | undefined;
  access: unknown;
}

export interface CloudApp {
  app: CloudServer;
  context: CloudContext;
  /** Every route the app registered, for checks such as "each is in the OpenAPI document". */
  routes: readonly RegisteredRoute[];
}

/**
 * Who is calling: the given authenticator (tests), else access tokens from sign-in, and test
 * tokens too when the cloud was started with their secret.
 */
function chooseAuthenticate(
  config: CloudConfig,
  given: Authenticate | undefined,
  storage: Storage,
  now: () => Date,
) {
  if (given) return { authenticate: given, testTokens: false };
  const secret = config.auth.testTokenSecret;
  const fallback = secret === undefined ? undefined : testTokenAuthenticator(secret);
  return {
    authenticate: bearerAuthenticator(storage, now, fallback),
    testTokens: fallback !== undefined,
  };
}

/** Where modules reach the broker, as configured (the embedded broker may pick its port later). */
function configuredModuleLinkEndpoint(config: CloudConfig): ModuleLinkEndpoint {
  const mqtt = config.mqtt;
  if (mqtt.moduleUrl !== undefined) return { brokerUrl: mqtt.moduleUrl };
  return mqtt.mode === 'external'
    ? { brokerUrl: mqtt.url }
    : { brokerUrl: `mqtt://${mqtt.host}:${mqtt.port}` };
}

export async function buildApp(
  config: CloudConfig,
  options: BuildAppOptions = {},
): Promise<CloudApp> {
  const ownStorage = options.storage === undefined;
  const storage = options.storage ?? openStorage(config.storage);
  try {
    if (ownStorage) await migrateToLatest(storage);
  } catch (error) {
    await storage.close();
    throw error;
  }
  const now = options.now ?? (() => new Date());
  let keys;
  try {
    keys = await openCloudKeys({
      keysDir: config.keysDir,
      store: new DatabaseKeyStore(storage.db, now),
      now: () => now().getTime(),
    });
  } catch (error) {
    if (ownStorage) await storage.close();
    throw error;
  }
  const context: CloudContext = {
    config,
    storage,
    now,
    stationRequests: new StationRequestVerifier(storage, now),
    keys,
    moduleLinkEndpoint: configuredModuleLinkEndpoint(config),
  };

  const app: CloudServer = fastify({
    logger: options.logger ?? { level: config.log.level },
    bodyLimit: config.http.bodyLimitBytes,
    // Let requests in flight finish on close; new ones get 503.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();
  if (ownStorage) app.addHook('onClose', () => storage.close());

  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({
        method,
        url: route.url,
        schema: route.schema as Record<string, unknown> | undefined,
        access: route.config?.access,
      });
    }
  });
  // A JSON API: a text/plain body is a client mistake (415), not a string to validate.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  const auth = chooseAuthenticate(config, options.authenticate, storage, context.now);
  installAccessControl(app, auth.authenticate);
  installStationSignatures(app, context.stationRequests);
  if (auth.testTokens) {
    app.log.warn(
      `test tokens are accepted (${TEST_PRINCIPAL_HEADER} header): for tests and local development only`,
    );
  }

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'MINI Sharing cloud',
        version: API_VERSION,
        description:
          'The sharing cloud (cloud-stub). Every operation names who may call it in `x-access` ' +
          '(roles, or "anonymous-allowed"). Errors are `{ error: { code, message, details } }`.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'The access token from POST /v1/auth/login.',
          },
        },
      },
    },
    transform: ({ schema, url }) => {
      const access = (schema as { 'x-access'?: unknown } | undefined)?.['x-access'];
      if (schema === undefined || access === undefined || access === 'anonymous-allowed') {
        return { schema, url };
      }
      return { schema: { ...schema, security: [{ bearer: [] }] }, url };
    },
  });

  app.route({ ...routeOptions(getOpenApiDocument), handler: async () => app.swagger() });

  try {
    for (const { plugin } of [...DOMAIN_PLUGINS, ...(options.plugins ?? [])]) {
      await app.register(plugin, { context });
    }
    await app.ready();
  } catch (error) {
    // A plugin that cannot start (the broker's port taken) must not leave the store or the
    // plugins that did start open: close what is open, then report the first failure.
    await app.close().catch(() => undefined);
    if (ownStorage) await storage.close().catch(() => undefined);
    throw error;
  }
  return { app, context, routes };
}
