/**
 * For tests only: the cloud's side of one module's link — signs commands and retained state with
 * the test fixtures' cloud key, and verifies and records everything the module sends, in arrival
 * order (a report the module sent twice is marked as a duplicate, as the cloud's replay check
 * would refuse it).
 */
import { connectAsync, type MqttClient } from 'mqtt';
import {
  bytesEqual,
  keyIdOf,
  randomBytes,
  toHex,
  type Signer,
} from '@mini-sharing/shared-protocol/crypto';
import {
  CLOUD_BODY_TOPIC,
  moduleTopic,
  parseModuleTopic,
  signCloudEnvelope,
  verifyModuleEnvelope,
  type CloudBodyInit,
  type CommandResult,
  type ModuleEnvelope,
  type ModuleEvent,
  type ModuleTopicKind,
  type Presence,
  type Telemetry,
} from '@mini-sharing/shared-protocol/link';
import type { TrustFixtures } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { CLOUD_CLIENT_PREFIX, CLOUD_PASSWORD } from './broker.js';

export interface ReceivedReport {
  kind: ModuleTopicKind;
  envelope: ModuleEnvelope;
  retained: boolean;
  /** Same envelope id as an earlier report. */
  duplicate: boolean;
}

export interface SignOptions {
  id?: Uint8Array;
  issuedAtMs?: number;
  /** Default: issued + 5 minutes. */
  expiresAtMs?: number;
  signer?: Signer;
  serial?: string;
}

const MINUTE = 60_000;

export class TestCloud {
  readonly reports: ReceivedReport[] = [];
  /** Payloads on the module's topics that did not verify (reason and topic). */
  readonly rejected: string[] = [];
  readonly #client: MqttClient;
  readonly #seenIds = new Set<string>();
  #receiving: Promise<void> = Promise.resolve();

  private constructor(
    client: MqttClient,
    private readonly context: {
      serial: string;
      fx: TrustFixtures;
      modulePublicKey: () => Uint8Array;
      now: () => number;
      journal: string[];
    },
  ) {
    this.#client = client;
  }

  static async connect(options: {
    url: string;
    serial: string;
    fx: TrustFixtures;
    modulePublicKey: () => Uint8Array;
    now: () => number;
    journal: string[];
    /** Credentials the broker wants from the cloud (the test broker's by default). */
    username?: string;
    password?: string;
  }): Promise<TestCloud> {
    const client = await connectAsync(options.url, {
      clientId: `${CLOUD_CLIENT_PREFIX}${toHex(randomBytes(6))}`,
      username: options.username ?? 'cloud',
      password: options.password ?? CLOUD_PASSWORD,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    const cloud = new TestCloud(client, options);
    client.on('message', (topic, payload, packet) =>
      cloud.#receive(topic, new Uint8Array(payload), packet.retain),
    );
    const kinds: ModuleTopicKind[] = ['presence', 'telemetry', 'events', 'command-results'];
    await client.subscribeAsync(
      kinds.map((kind) => moduleTopic(options.serial, kind)),
      { qos: 1 },
    );
    return cloud;
  }

  #receive(topic: string, payload: Uint8Array, retained: boolean): void {
    const parsed = parseModuleTopic(topic);
    if (!parsed || payload.length === 0) return;
    this.#receiving = this.#receiving.then(async () => {
      const { modulePublicKey, serial, now, journal } = this.context;
      const verdict = await verifyModuleEnvelope(payload, {
        moduleSerial: serial,
        moduleKeys: (keyId) => {
          const key = modulePublicKey();
          return bytesEqual(keyId, keyIdOf(key)) ? key : undefined;
        },
        nowMs: now(),
      });
      if (!verdict.ok) {
        this.rejected.push(`${verdict.reason} on ${parsed.kind}`);
        return;
      }
      const { envelope } = verdict.value;
      const id = toHex(envelope.id);
      const duplicate = this.#seenIds.has(id);
      this.#seenIds.add(id);
      this.reports.push({ kind: parsed.kind, envelope, retained, duplicate });
      if (!duplicate) journal.push(`cloud: got ${describeReport(envelope)}`);
    });
  }

  async sign(body: CloudBodyInit, options: SignOptions = {}) {
    const id = options.id ?? randomBytes(16);
    const issuedAtMs = Math.floor(options.issuedAtMs ?? this.context.now());
    const expiresAtMs = options.expiresAtMs ?? issuedAtMs + 5 * MINUTE;
    const bytes = await signCloudEnvelope(
      { id, moduleSerial: options.serial ?? this.context.serial, issuedAtMs, expiresAtMs, body },
      options.signer ?? this.context.fx.cloud,
    );
    return { id, bytes };
  }

  /** Signs a body and publishes it on its topic (state retained); returns the envelope id. */
  async send(body: CloudBodyInit, options: SignOptions = {}) {
    const signed = await this.sign(body, options);
    const kind = CLOUD_BODY_TOPIC[body.case];
    await this.publishRaw(kind, signed.bytes, kind !== 'commands');
    return signed;
  }

  async publishRaw(kind: ModuleTopicKind, bytes: Uint8Array, retain = false): Promise<void> {
    await this.#client.publishAsync(moduleTopic(this.context.serial, kind), Buffer.from(bytes), {
      qos: 1,
      retain,
    });
  }

  /** Reports of a kind, first arrivals only, in arrival order. */
  unique(kind: ModuleTopicKind): ModuleEnvelope[] {
    return this.reports.filter((r) => r.kind === kind && !r.duplicate).map((r) => r.envelope);
  }

  events(): ModuleEvent['kind'][] {
    return this.unique('events').flatMap((e) =>
      e.body.case === 'event' ? [e.body.value.kind] : [],
    );
  }

  telemetry(): Array<{ timeMs: number; telemetry: Telemetry }> {
    return this.unique('telemetry').flatMap((e) =>
      e.body.case === 'telemetry' ? [{ timeMs: Number(e.timeMs), telemetry: e.body.value }] : [],
    );
  }

  presence(): Presence[] {
    return this.reports.flatMap((r) =>
      r.envelope.body.case === 'presence' ? [r.envelope.body.value] : [],
    );
  }

  results(): CommandResult[] {
    return this.unique('command-results').flatMap((e) =>
      e.body.case === 'commandResult' ? [e.body.value] : [],
    );
  }

  /** Every result the module gave for this envelope id (normally one). */
  resultsFor(id: Uint8Array): CommandResult[] {
    return this.results().filter((r) => bytesEqual(r.commandId, id));
  }

  /** Waits for the `n`-th result naming this envelope id. */
  async resultFor(id: Uint8Array, n = 1): Promise<CommandResult> {
    return waitFor(() => this.resultsFor(id)[n - 1], `result ${n} for ${toHex(id)}`);
  }

  /** Clears the module's retained topics (a shared broker keeps them otherwise). */
  async clearRetained(): Promise<void> {
    for (const kind of ['presence', 'revocation-list', 'booking'] as const) {
      await this.publishRaw(kind, new Uint8Array(0), true);
    }
  }

  async close(): Promise<void> {
    await this.#receiving;
    await this.#client.endAsync(true);
  }
}

function describeReport(envelope: ModuleEnvelope): string {
  const { body } = envelope;
  switch (body.case) {
    case 'event':
      return `event ${body.value.kind.case ?? 'unknown'}`;
    case 'commandResult':
      return `result ${toHex(body.value.commandId)}`;
    default:
      return body.case ?? 'unknown';
  }
}

/** Polls until `probe` gives a value (10 s at most). */
export async function waitFor<T>(
  probe: () => T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
