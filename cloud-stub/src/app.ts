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
import type { CloudContext, CloudServer, NamedCloudPlugin } from './context.js';
import { firmwarePlugin } from './firmware/plugin.js';
import { healthPlugin } from './health/plugin.js';
import { identityNotAvailable, installAccessControl, type Authenticate } from './http/auth.js';
import { errorHandler, notFoundHandler } from './http/errors.js';
import { routeOptions } from './http/routes.js';
import { TEST_PRINCIPAL_HEADER, testTokenAuthenticator } from './http/test-tokens.js';
import { validatorCompiler } from './http/validation.js';
import { migrateToLatest, openStorage, type Storage } from './storage/storage.js';
import { vehiclesPlugin } from './vehicles/plugin.js';

/** The domains, in registration order. */
export const DOMAIN_PLUGINS: readonly NamedCloudPlugin[] = [
  { name: 'health', plugin: healthPlugin },
  { name: 'vehicles', plugin: vehiclesPlugin },
  { name: 'firmware', plugin: firmwarePlugin },
];

export interface BuildAppOptions {
  /** A store already open and migrated (tests); otherwise the app opens, migrates and closes one. */
  storage?: Storage;
  /** Who is calling; default: test tokens when configured, else nobody (identity is not built). */
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

function chooseAuthenticate(config: CloudConfig, given: Authenticate | undefined) {
  if (given) return { authenticate: given, identityAvailable: true, testTokens: false };
  const secret = config.auth.testTokenSecret;
  if (secret !== undefined) {
    return {
      authenticate: testTokenAuthenticator(secret),
      identityAvailable: true,
      testTokens: true,
    };
  }
  return { authenticate: identityNotAvailable, identityAvailable: false, testTokens: false };
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
  const context: CloudContext = { config, storage, now: options.now ?? (() => new Date()) };

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

  const auth = chooseAuthenticate(config, options.authenticate);
  installAccessControl(app, auth.authenticate, { identityAvailable: auth.identityAvailable });
  if (auth.testTokens) {
    app.log.warn(
      `test tokens are accepted (${TEST_PRINCIPAL_HEADER} header): for tests and local development only`,
    );
  } else if (!auth.identityAvailable) {
    app.log.info('identity is not built yet: only public routes answer');
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
          testPrincipal: {
            type: 'apiKey',
            in: 'header',
            name: TEST_PRINCIPAL_HEADER,
            description:
              'Test tokens (tests and local development) until accounts and station keys exist.',
          },
        },
      },
    },
    transform: ({ schema, url }) => {
      const access = (schema as { 'x-access'?: unknown } | undefined)?.['x-access'];
      if (schema === undefined || access === undefined || access === 'anonymous-allowed') {
        return { schema, url };
      }
      return { schema: { ...schema, security: [{ testPrincipal: [] }] }, url };
    },
  });

  app.route({ ...routeOptions(getOpenApiDocument), handler: async () => app.swagger() });

  for (const { plugin } of [...DOMAIN_PLUGINS, ...(options.plugins ?? [])]) {
    await app.register(plugin, { context });
  }
  await app.ready();
  return { app, context, routes };
}
