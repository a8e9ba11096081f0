/**
 * What every domain plugin is given: the configuration, the store and the clock. Plugins take
 * nothing from globals, so tests build an app around any store and any time.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CloudConfig } from './config.js';
import type { CloudKeys } from './keys/cloud-keys.js';
import type { StationRequestVerifier } from './stations/signature.js';
import type { Storage } from './storage/storage.js';

export interface CloudContext {
  readonly config: CloudConfig;
  readonly storage: Storage;
  readonly now: () => Date;
  /** Checks station-signed requests (one nonce cache per app). */
  readonly stationRequests: StationRequestVerifier;
  /** The cloud's root and signing keys (the set is stored in the database). */
  readonly keys: CloudKeys;
  /**
   * Where modules reach the module link: what provisioning writes into their settings. From the
   * configuration; the module link plugin sets the embedded broker's real address once it runs.
   */
  readonly moduleLinkEndpoint: ModuleLinkEndpoint;
}

export interface ModuleLinkEndpoint {
  /** mqtt://host:port (embedded broker) or the external broker's URL. */
  brokerUrl: string;
  /** PEM of the CA modules trust for the broker, when it uses TLS. */
  caCertificatePem?: string;
}

/** The Fastify instance the plugins see: TypeBox schemas type requests and replies. */
export type CloudServer = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface CloudPluginOptions {
  context: CloudContext;
}

/** A domain plugin: owns its routes (from the contract), its queries and its rules. */
export type CloudPlugin = FastifyPluginAsync<CloudPluginOptions, Server, TypeBoxTypeProvider>;

/** A plugin to register, with its name for logs and errors. */
export interface NamedCloudPlugin {
  name: string;
  plugin: CloudPlugin;
}
