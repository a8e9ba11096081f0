/**
 * The embedded MQTT broker (aedes, in-process) on its own port (PROTOCOL.md 16.3). It
 * authenticates each module by client id = serial, username and the password provisioning gave
 * it (checked against the stored hash through the ModuleDirectory), and lets a module publish
 * only to its own module → cloud topics (its last will included) and subscribe only to its own
 * cloud → module topics. The cloud's own client logs in with a secret made at start and is not
 * subject to the rule. The ACL keeps modules apart; what makes messages trustworthy is their
 * signatures, which the cloud link checks whatever the broker.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import {
  MAX_ENVELOPE_SIZE,
  isValidModuleSerial,
  moduleMayPublish,
  moduleMaySubscribe,
} from '@mini-sharing/shared-protocol/link';
import { verifyModulePassword } from '../keys/module-credentials.js';
import type { ModuleDirectory } from './directory.js';
import { ThrottledLog, type LinkLogger } from './log.js';

/** The cloud client's login on the embedded broker. */
export interface BrokerCloudLogin {
  clientId: string;
  username: string;
  password: string;
}

export interface EmbeddedBrokerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0: any free port. */
  port: number;
  directory: ModuleDirectory;
  cloud: BrokerCloudLogin;
  logger: LinkLogger;
}

export interface BrokerRefusals {
  /** CONNECTs refused (bad client id, unknown module, wrong credentials, not active). */
  connect: number;
  publish: number;
  subscribe: number;
}

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  /** mqtt://host:port */
  readonly url: string;
  readonly aedes: Aedes;
  readonly refusals: Readonly<BrokerRefusals>;
  /** Module clients connected now. */
  readonly connectedModules: number;
  close(): Promise<void>;
}

// aedes' AuthErrorCode is a const enum, which isolated modules cannot read: its values.
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function sameSecret(given: Buffer | undefined, expected: string): boolean {
  if (!given) return false;
  const wanted = Buffer.from(expected, 'utf8');
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { directory, cloud, logger } = options;
  const host = options.host ?? '127.0.0.1';
  const log = new ThrottledLog(logger);
  const refusals: BrokerRefusals = { connect: 0, publish: 0, subscribe: 0 };
  // Decided at CONNECT, by the client object: a client id alone proves nothing.
  const cloudClients = new WeakSet<Client>();
  const moduleClients = new WeakSet<Client>();
  let connectedModules = 0;

  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const refuse = (returnCode: number, why: string) => {
        refusals.connect += 1;
        log.log(
          'warn',
          `connect:${why}`,
          { clientId: client.id.slice(0, 80), why },
          'MQTT login refused',
        );
        const error = Object.assign(new Error(why), { returnCode }) as AuthenticateError;
        done(error, false);
      };
      if (client.id === cloud.clientId) {
        if (username === cloud.username && sameSecret(password, cloud.password)) {
          cloudClients.add(client);
          return done(null, true);
        }
        return refuse(BAD_USERNAME_OR_PASSWORD, 'bad cloud credentials');
      }
      if (!isValidModuleSerial(client.id)) {
        return refuse(IDENTIFIER_REJECTED, 'client id is not a module serial');
      }
      directory.find(client.id).then(
        async (module) => {
          if (!module) return refuse(BAD_USERNAME_OR_PASSWORD, 'unknown module');
          if (module.access !== 'active') return refuse(NOT_AUTHORIZED, `module ${module.access}`);
          const matches =
            username === module.username &&
            (await verifyModulePassword(password, module.passwordHash));
          if (!matches) return refuse(BAD_USERNAME_OR_PASSWORD, 'wrong module credentials');
          moduleClients.add(client);
          done(null, true);
        },
        (error: unknown) => {
          logger.error({ clientId: client.id, err: error }, 'module lookup failed at MQTT login');
          refuse(SERVER_UNAVAILABLE, 'module directory unavailable');
        },
      );
    },
    authorizePublish: (client, packet, done) => {
      if (!client || cloudClients.has(client)) return done(null);
      const size = packet.payload?.length ?? 0;
      if (moduleClients.has(client) && size <= MAX_ENVELOPE_SIZE) {
        if (moduleMayPublish(client.id, packet.topic)) return done(null);
      }
      refusals.publish += 1;
      log.log(
        'warn',
        `publish:${client.id}`,
        { clientId: client.id, topic: packet.topic.slice(0, 200), size },
        'MQTT publish refused: not one of the module’s own topics (connection closed)',
      );
      return done(new Error('publish not allowed'));
    },
    authorizeSubscribe: (client, subscription, done) => {
      if (cloudClients.has(client)) return done(null, subscription);
      if (moduleClients.has(client) && moduleMaySubscribe(client.id, subscription.topic)) {
        return done(null, subscription);
      }
      refusals.subscribe += 1;
      log.log(
        'warn',
        `subscribe:${client.id}`,
        { clientId: client.id, filter: subscription.topic.slice(0, 200) },
        'MQTT subscription refused',
      );
      return done(null, null);
    },
  });
  aedes.on('clientReady', (client) => {
    if (moduleClients.has(client)) connectedModules += 1;
  });
  aedes.on('clientDisconnect', (client) => {
    if (moduleClients.has(client)) connectedModules = Math.max(0, connectedModules - 1);
  });

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      `The embedded MQTT broker cannot listen on ${host}:${options.port}` +
        (code === 'EADDRINUSE'
          ? ': the port is taken (set another in the config)'
          : `: ${String(error)}`),
      { cause: error },
    );
  }
  const port = (server.address() as AddressInfo).port;
  logger.info({ host, port }, 'embedded MQTT broker listening');
  return {
    host,
    port,
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    aedes,
    refusals,
    get connectedModules() {
      return connectedModules;
    },
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
