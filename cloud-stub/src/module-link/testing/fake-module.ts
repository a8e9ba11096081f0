/**
 * For tests only: a module as the broker and the cloud see it, without the firmware — a raw MQTT
 * client with the module's login that signs what it publishes with an identity key (or forges).
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { randomBytes, seedSigner, toHex, type Signer } from '@mini-sharing/shared-protocol/crypto';
import {
  PresenceState,
  moduleTopic,
  presenceWill,
  signModuleEnvelope,
  type ModuleBodyInit,
  type ModuleTopicKind,
} from '@mini-sharing/shared-protocol/link';
import type { ModuleCredentials } from '../../keys/module-credentials.js';
import type { InMemoryModuleDirectory } from '../directory.js';

export interface RegisteredTestModule {
  serial: string;
  identity: Signer;
  credentials: ModuleCredentials;
}

/** A unique serial per run (shared brokers keep retained messages). */
export const uniqueSerial = (prefix = 'MSM-T'): string => `${prefix}-${toHex(randomBytes(6))}`;

export async function registerTestModule(
  directory: InMemoryModuleDirectory,
  serial = uniqueSerial(),
): Promise<RegisteredTestModule> {
  const identity = seedSigner(randomBytes(32));
  const credentials = await directory.register({ serial, identityPublicKey: identity.publicKey });
  return { serial, identity, credentials };
}

export class FakeModule {
  readonly received: Array<{ topic: string; payload: Uint8Array; retain: boolean }> = [];

  private constructor(
    readonly client: MqttClient,
    readonly module: RegisteredTestModule,
  ) {
    client.on('message', (topic, payload, packet) =>
      this.received.push({ topic, payload: new Uint8Array(payload), retain: packet.retain }),
    );
  }

  /** Connects with the module's login (override any part to test refusals). */
  static async connect(
    url: string,
    module: RegisteredTestModule,
    options: Partial<IClientOptions> = {},
  ): Promise<FakeModule> {
    const client = await connectAsync(
      url,
      {
        clientId: module.serial,
        username: module.credentials.username,
        password: module.credentials.password,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
        ...options,
      },
      false,
    );
    return new FakeModule(client, module);
  }

  sign(
    body: ModuleBodyInit,
    options: { timeMs?: number; serial?: string; signer?: Signer; id?: Uint8Array } = {},
  ): Promise<Uint8Array> {
    return signModuleEnvelope(
      {
        moduleSerial: options.serial ?? this.module.serial,
        timeMs: options.timeMs ?? Date.now(),
        body,
        ...(options.id ? { id: options.id } : {}),
      },
      options.signer ?? this.module.identity,
    );
  }

  async publish(
    kind: ModuleTopicKind,
    payload: Uint8Array,
    options: { retain?: boolean; serial?: string } = {},
  ): Promise<void> {
    await this.client.publishAsync(
      moduleTopic(options.serial ?? this.module.serial, kind),
      Buffer.from(payload),
      { qos: 1, retain: options.retain ?? false },
    );
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** A signed presence for a module (the will and ONLINE share one connection id). */
export function presence(
  state: PresenceState,
  connectionId: Uint8Array,
  firmwareVersion = '1.4.0-test',
): ModuleBodyInit {
  return { case: 'presence', value: { state, connectionId, firmwareVersion } };
}

/** MQTT options for a module's last will: its signed CONNECTION_LOST presence. */
export async function willOptions(
  module: RegisteredTestModule,
  connectionId: Uint8Array,
  topicSerial = module.serial,
): Promise<Pick<IClientOptions, 'will'>> {
  const payload = await signModuleEnvelope(
    {
      moduleSerial: module.serial,
      timeMs: Date.now(),
      body: presence(PresenceState.CONNECTION_LOST, connectionId),
    },
    module.identity,
  );
  const will = presenceWill(topicSerial, payload);
  return { will: { ...will, payload: Buffer.from(will.payload) } };
}

/** Polls until `probe` gives a value (10 s at most). */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
