/**
 * For tests only: an in-process aedes broker on a random loopback port that applies the module
 * link's access rule (PROTOCOL.md 16.3), and a TCP proxy in front of it whose coverage can be cut.
 */
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { moduleMayPublish, moduleMaySubscribe } from '@mini-sharing/shared-protocol/link';

export const CLOUD_PASSWORD = 'cloud-test-password';
export const MODULE_PASSWORD = 'module-test-password';
/** Clients whose id starts with this are the cloud: trusted by the ACL. */
export const CLOUD_CLIENT_PREFIX = 'cloud-';

export interface TestBroker {
  url: string;
  port: number;
  broker: Aedes;
  /** Every filter each client asked for, granted or not. */
  subscriptionsBy: Map<string, string[]>;
  /** Publishes and subscriptions the ACL refused, as "client: topic". */
  refused: string[];
  close(): Promise<void>;
}

export async function startTestBroker(): Promise<TestBroker> {
  const subscriptionsBy = new Map<string, string[]>();
  const refused: string[] = [];
  const isCloud = (id: string) => id.startsWith(CLOUD_CLIENT_PREFIX);
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const expected = isCloud(client.id) ? CLOUD_PASSWORD : MODULE_PASSWORD;
      const ok =
        password?.toString() === expected && (isCloud(client.id) || username === client.id);
      if (ok) return done(null, true);
      const error = Object.assign(new Error('bad credentials'), { returnCode: 4 });
      return done(error, false);
    },
    authorizePublish: (client, packet, done) => {
      if (!client || isCloud(client.id) || moduleMayPublish(client.id, packet.topic)) {
        return done(null);
      }
      refused.push(`${client.id}: publish ${packet.topic}`);
      return done(new Error('not allowed'));
    },
    authorizeSubscribe: (client, subscription, done) => {
      const list = subscriptionsBy.get(client.id) ?? [];
      list.push(subscription.topic);
      subscriptionsBy.set(client.id, list);
      if (isCloud(client.id) || moduleMaySubscribe(client.id, subscription.topic)) {
        return done(null, subscription);
      }
      refused.push(`${client.id}: subscribe ${subscription.topic}`);
      return done(null, null);
    },
  });
  const server = createServer(broker.handle);
  const port = await listen(server);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    broker,
    subscriptionsBy,
    refused,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closeServer(server);
    },
  };
}

/** A TCP relay to the broker: `cut()` drops every connection and refuses new ones. */
export class CoverageProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #covered = true;
  port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((inbound) => {
      if (!this.#covered) {
        inbound.destroy();
        return;
      }
      const outbound = new Socket();
      outbound.connect(targetPort, '127.0.0.1');
      for (const socket of [inbound, outbound]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
  }

  /** `listenPort`: default any free one. */
  static async start(targetPort: number, listenPort = 0): Promise<CoverageProxy> {
    const proxy = new CoverageProxy(targetPort);
    proxy.port = await listen(proxy.#server, listenPort);
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Coverage lost: connections drop without a DISCONNECT (the broker sends the will). */
  cut(): void {
    this.#covered = false;
    for (const socket of this.#sockets) socket.destroy();
  }

  restore(): void {
    this.#covered = true;
  }

  async close(): Promise<void> {
    this.cut();
    await closeServer(this.#server);
  }
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** A loopback port nothing listens on (for now). */
export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
