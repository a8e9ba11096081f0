/**
 * The module's link to the cloud over MQTT (PROTOCOL.md section 16; client `mqtt`).
 *
 * - Connects with its provisioned settings (client id = module serial, credentials, broker CA),
 *   clean session, a freshly signed CONNECTION_LOST presence as retained last will, a retained
 *   ONLINE presence right after connecting, and subscriptions on its own three cloud → module
 *   topics only. Reconnects by itself with a growing, jittered back-off.
 * - On every (re)connect the retained revocation list and booking state are applied before any
 *   command runs and before any queued report is sent (`syncing`); it waits for both, or
 *   `stateSettleMs` when the broker holds none of a kind.
 * - Cloud envelopes: envelope-intake.ts (verify, at most once by id) and commands.ts (carry out);
 *   every one is answered with a signed CommandResult.
 * - Reports: report-queue.ts (events and results, crash-safe, in order, QoS 1) and
 *   telemetry-sender.ts (QoS 0, with the location rule).
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { randomBytes } from '@mini-sharing/shared-protocol/crypto';
import {
  CommandStatus,
  PresenceState,
  moduleTopics,
  parseModuleTopic,
  presenceWill,
  signModuleEnvelope,
  type ModuleBodyInit,
  type ModuleTopicKind,
} from '@mini-sharing/shared-protocol/link';
import { verifyModuleLinkSettings } from '@mini-sharing/shared-protocol/trust';
import type { ModuleLinkSettings } from '@mini-sharing/shared-protocol/trust';
import type { ModuleClock } from '../hal/index.js';
import type { IdentityStore } from '../service/identity.js';
import type { RecordStore } from '../storage/index.js';
import { describeError, type LogLevel, type ReportChannel } from './channel.js';
import { CommandMemory, type StateKind } from './command-memory.js';
import type { CloudCommandTarget, FaultCodeSource } from './command-target.js';
import { takeCloudEnvelope, type EnvelopeAnswer, type IntakeContext } from './envelope-intake.js';
import { Outbox } from './outbox.js';
import { ReportQueue } from './report-queue.js';
import { TelemetrySender } from './telemetry-sender.js';
import type { TelemetrySources } from './telemetry.js';

export type { LogLevel };
export type CloudLinkLog = (level: LogLevel, component: string, message: string) => void;

export interface CloudLinkOptions {
  /** Periodic telemetry. Default 15 min. */
  telemetryIntervalMs?: number;
  /** A change in the car is reported after this quiet time (changes coalesce). Default 2 s. */
  telemetryDebounceMs?: number;
  /** Reconnect back-off: first delay (default 1 s), doubling up to the maximum (2 min), ±20 %. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** CONNACK wait. Default 30 s. */
  connectTimeoutMs?: number;
  /** MQTT keep-alive, seconds. Default 60. */
  keepAliveS?: number;
  /** How long to wait for retained state the broker may not hold. Default 3 s. */
  stateSettleMs?: number;
  /** Reports the offline queue holds before dropping the oldest. Default 1000. */
  outboxCapacity?: number;
  /** Reports published and not yet acknowledged at once. Default 8. */
  inFlightWindow?: number;
  /** Command ids remembered (until they expire). Default 256. */
  seenCapacity?: number;
  /** Answers to payloads that are not provably the cloud's, per minute. Default 10. */
  unauthenticatedAnswersPerMinute?: number;
}

export interface CloudLinkDeps {
  /** The module serial (MQTT client id; the provisioned settings must name it). */
  moduleSerial: string;
  /** Provisioned: link settings, identity key (signer), cloud key ring. */
  identity: IdentityStore;
  records: RecordStore;
  /** The car, GNSS and 12 V supply (a ModuleHal fits). */
  hal: TelemetrySources;
  clock: ModuleClock;
  access: CloudCommandTarget;
  faults?: FaultCodeSource;
  log: CloudLinkLog;
  /** For presence. Default "0.0.0-dev". */
  firmwareVersion?: string;
  options?: CloudLinkOptions;
}

/**
 * `connecting`: the first attempt; `offline`: waiting to retry; `syncing`: connected, applying
 * retained state; `online`: commands run and reports flow; `closed`: close() was called.
 */
export type CloudLinkState = 'connecting' | 'syncing' | 'online' | 'offline' | 'closed';

export interface CloudLinkStatus {
  state: CloudLinkState;
  /** Connections lost or failed since the last one that came up. */
  failedAttempts: number;
  /** Events and command results waiting in the offline queue. */
  queuedReports: number;
  /** Reports the full queue dropped that the cloud has not been told about yet. */
  droppedReports: number;
  lastConnectedAtMs?: number;
  lastError?: string;
}

export interface CloudLink {
  readonly status: CloudLinkStatus;
  /** Called on every status change; returns the function that unsubscribes. */
  onStatus(listener: (status: CloudLinkStatus) => void): () => void;
  /** Sends a telemetry report now (or as soon as the link is online). */
  sendTelemetry(reason?: string): void;
  /** Publishes a retained OFFLINE presence when connected, disconnects, stops all timers. */
  close(): Promise<void>;
}

const COMPONENT = 'cloud-link';
const STATE_KINDS: readonly StateKind[] = ['revocation-list', 'booking'];

/** Opens the link's stored state and starts connecting. Rejects on an unprovisioned module. */
export async function startCloudLink(deps: CloudLinkDeps): Promise<CloudLink> {
  const provisioned = deps.identity.provisioned;
  const root = deps.identity.rootPublicKey;
  if (!provisioned || !root) throw new Error('The module is not provisioned: no cloud link');
  const verdict = await verifyModuleLinkSettings(provisioned.moduleLinkSettings, {
    moduleSerial: deps.moduleSerial,
    rootPublicKey: root,
  });
  if (!verdict.ok) throw new Error(`The module-link settings are unusable: ${verdict.message}`);
  const options = deps.options ?? {};
  const outbox = await Outbox.open(deps.records, {
    capacity: options.outboxCapacity,
    nowMs: Math.floor(deps.clock.now()),
  });
  const memory = await CommandMemory.open(deps.records, options.seenCapacity);
  const link = new ModuleCloudLink(deps, verdict.value.settings, outbox, memory);
  link.start();
  return link;
}

interface Connection {
  client: MqttClient;
  connectionId: Uint8Array;
  /** Subscribed and retained state applied (or waited for): commands run, reports flow. */
  settled: boolean;
  subscribed: boolean;
  stateSeen: Set<StateKind>;
  settleTimer?: unknown;
  channel: ReportChannel;
}

interface Inbound {
  topic: 'commands' | StateKind;
  payload: Uint8Array;
  connection: Connection;
}

class ModuleCloudLink implements CloudLink {
  readonly #deps: CloudLinkDeps;
  readonly #settings: ModuleLinkSettings;
  readonly #serial: string;
  readonly #topics: Record<ModuleTopicKind, string>;
  readonly #log: (level: LogLevel, message: string) => void;
  readonly #reports: ReportQueue;
  readonly #telemetry: TelemetrySender;
  readonly #intake: IntakeContext;
  readonly #statusListeners = new Set<(status: CloudLinkStatus) => void>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #stateInbox: Inbound[] = [];
  readonly #commandInbox: Inbound[] = [];
  readonly #timing: {
    reconnectMinMs: number;
    reconnectMaxMs: number;
    connectTimeoutMs: number;
    keepAliveS: number;
    stateSettleMs: number;
    unauthenticatedAnswersPerMinute: number;
  };

  #state: CloudLinkState = 'connecting';
  #closed = false;
  #connection: Connection | undefined;
  #failedAttempts = 0;
  #lastConnectedAtMs: number | undefined;
  #lastError: string | undefined;
  #reconnectTimer: unknown;
  #draining: Promise<void> | undefined;
  #answers = { windowStartMs: 0, count: 0 };

  constructor(
    deps: CloudLinkDeps,
    settings: ModuleLinkSettings,
    outbox: Outbox,
    memory: CommandMemory,
  ) {
    this.#deps = deps;
    this.#settings = settings;
    this.#serial = deps.moduleSerial;
    this.#topics = moduleTopics(deps.moduleSerial);
    this.#log = (level, message) => deps.log(level, COMPONENT, message);
    const options = deps.options ?? {};
    this.#timing = {
      reconnectMinMs: options.reconnectMinMs ?? 1_000,
      reconnectMaxMs: options.reconnectMaxMs ?? 120_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
      keepAliveS: options.keepAliveS ?? 60,
      stateSettleMs: options.stateSettleMs ?? 3_000,
      unauthenticatedAnswersPerMinute: options.unauthenticatedAnswersPerMinute ?? 10,
    };
    const sign = (body: ModuleBodyInit, timeMs: number) => this.#sign(body, timeMs);
    const now = () => Math.floor(deps.clock.now());
    this.#reports = new ReportQueue({
      outbox,
      sign,
      now,
      log: this.#log,
      window: options.inFlightWindow ?? 8,
      onChange: () => this.#notify(),
    });
    this.#telemetry = new TelemetrySender({
      hal: deps.hal,
      access: deps.access,
      clock: deps.clock,
      sign,
      log: this.#log,
      intervalMs: options.telemetryIntervalMs ?? 15 * 60_000,
      debounceMs: options.telemetryDebounceMs ?? 2_000,
    });
    this.#intake = {
      moduleSerial: deps.moduleSerial,
      identity: deps.identity,
      clock: deps.clock,
      memory,
      commands: {
        access: deps.access,
        identity: deps.identity,
        clock: deps.clock,
        requestTelemetry: (reason) => void this.#telemetry.send(reason),
        holdPositions: (work) => this.#telemetry.holdPositions(work),
        afterBookingEnded: () => void this.#telemetry.send('booking ended: parking position'),
      },
    };
  }

  start(): void {
    const { access, faults } = this.#deps;
    this.#unsubscribe.push(
      access.onEvent((event) => {
        if (event.case === 'parkedPositionWanted') {
          void this.#telemetry.send('parking position');
          return;
        }
        const { atMs, ...kind } = event;
        void this.#reports.add('events', { case: 'event', value: { kind } }, atMs);
      }),
    );
    if (faults) {
      this.#unsubscribe.push(
        faults.onStored((fault) => {
          const value = {
            code: fault.code,
            active: fault.active ?? true,
            occurrences: fault.occurrences ?? 1,
          };
          void this.#reports.add(
            'events',
            { case: 'event', value: { kind: { case: 'faultCodeStored', value } } },
            fault.atMs,
          );
        }),
      );
    }
    this.#telemetry.start();
    void this.#connect();
  }

  get status(): CloudLinkStatus {
    return {
      state: this.#state,
      failedAttempts: this.#failedAttempts,
      queuedReports: this.#reports.size,
      droppedReports: this.#reports.dropped,
      lastConnectedAtMs: this.#lastConnectedAtMs,
      lastError: this.#lastError,
    };
  }

  onStatus(listener: (status: CloudLinkStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  sendTelemetry(reason = 'requested'): void {
    void this.#telemetry.send(reason);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { clock } = this.#deps;
    clock.clearTimeout(this.#reconnectTimer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#telemetry.stop();
    this.#reports.sendOn(undefined);
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) {
      clock.clearTimeout(connection.settleTimer);
      if (connection.client.connected) {
        // Going to sleep on purpose: OFFLINE, not the will.
        try {
          const offline = await this.#signPresence(PresenceState.OFFLINE, connection.connectionId);
          await withTimeout(
            connection.client.publishAsync(this.#topics.presence, Buffer.from(offline), {
              qos: 1,
              retain: true,
            }),
            2_000,
          );
        } catch (error) {
          this.#log('warn', `OFFLINE presence not sent: ${describeError(error)}`);
        }
      }
      // A clean DISCONNECT when connected, so the broker discards the will and OFFLINE stays the
      // retained presence (a forced end drops the socket: the broker would publish the will).
      const { client } = connection;
      await withTimeout(client.endAsync(!client.connected), 2_000).catch(() =>
        client.endAsync(true).catch(() => undefined),
      );
    }
    await this.#draining;
    await this.#reports.settled();
    this.#state = 'closed';
    this.#notify();
  }

  // ---- connection ----

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const connectionId = randomBytes(16);
    let will: Uint8Array;
    let online: Uint8Array;
    try {
      will = await this.#signPresence(PresenceState.CONNECTION_LOST, connectionId);
      online = await this.#signPresence(PresenceState.ONLINE, connectionId);
    } catch (error) {
      this.#log('error', `cannot sign presence: ${describeError(error)}`);
      this.#retryLater();
      return;
    }
    if (this.#closed) return;
    const settings = this.#settings;
    const lastWill = presenceWill(this.#serial, will);
    const options: IClientOptions = {
      clientId: this.#serial,
      clean: true,
      protocolVersion: 4,
      // Reconnecting is ours: each connection needs a freshly signed will.
      reconnectPeriod: 0,
      connectTimeout: this.#timing.connectTimeoutMs,
      keepalive: this.#timing.keepAliveS,
      queueQoSZero: false,
      resubscribe: false,
      will: { ...lastWill, payload: Buffer.from(lastWill.payload) },
      ...(settings.username ? { username: settings.username } : {}),
      ...(settings.password ? { password: settings.password } : {}),
      ...(settings.caCertificatePem ? { ca: settings.caCertificatePem } : {}),
    };
    let client: MqttClient;
    try {
      client = connect(settings.brokerUrl, options);
    } catch (error) {
      this.#lastError = describeError(error);
      this.#log('error', `cannot connect to ${settings.brokerUrl}: ${this.#lastError}`);
      this.#failedAttempts += 1;
      this.#retryLater();
      return;
    }
    const topics = this.#topics;
    const connection: Connection = {
      client,
      connectionId,
      settled: false,
      subscribed: false,
      stateSeen: new Set(),
      channel: {
        get open() {
          return connection === current() && connection.settled && client.connected;
        },
        publish: (kind, payload, qos, acknowledged) =>
          client.publish(topics[kind], Buffer.from(payload), { qos }, acknowledged),
      },
    };
    const current = () => this.#connection;
    this.#connection = connection;
    client.on('connect', () => this.#onConnect(connection, online));
    client.on('message', (topic, payload) => this.#onMessage(connection, topic, payload));
    client.on('error', (error) => {
      this.#lastError = describeError(error);
      this.#log('warn', `broker ${settings.brokerUrl}: ${this.#lastError}`);
    });
    client.on('close', () => this.#onClose(connection));
  }

  #onConnect(connection: Connection, online: Uint8Array): void {
    if (connection !== this.#connection) return;
    const { client } = connection;
    this.#failedAttempts = 0;
    this.#lastError = undefined;
    this.#lastConnectedAtMs = Math.floor(this.#deps.clock.now());
    this.#log('info', `connected to ${this.#settings.brokerUrl} as ${this.#serial}`);
    this.#setState('syncing');
    client.publish(this.#topics.presence, Buffer.from(online), { qos: 1, retain: true });
    const topics = this.#topics;
    client.subscribe(
      {
        [topics['revocation-list']]: { qos: 1 },
        [topics.booking]: { qos: 1 },
        [topics.commands]: { qos: 1 },
      },
      (error, granted) => {
        if (connection !== this.#connection) return;
        if (error) {
          this.#log('error', `subscribing failed: ${describeError(error)}`);
          return;
        }
        for (const grant of granted ?? []) {
          if (grant.qos === 128) this.#log('error', `the broker refused ${grant.topic}`);
        }
        connection.subscribed = true;
        connection.settleTimer = this.#deps.clock.setTimeout(
          () => this.#settle(connection, 'no more retained state came'),
          this.#timing.stateSettleMs,
        );
        this.#maybeSettle(connection);
      },
    );
  }

  #maybeSettle(connection: Connection): void {
    if (connection.subscribed && STATE_KINDS.every((kind) => connection.stateSeen.has(kind))) {
      this.#settle(connection, 'retained state applied');
    }
  }

  /** Retained state is in: commands may run, queued reports and telemetry go out. */
  #settle(connection: Connection, why: string): void {
    if (connection !== this.#connection || connection.settled) return;
    connection.settled = true;
    this.#deps.clock.clearTimeout(connection.settleTimer);
    this.#log('info', `online (${why})`);
    this.#setState('online');
    this.#drain();
    this.#reports.sendOn(connection.channel);
    this.#telemetry.sendOn(connection.channel);
  }

  #onClose(connection: Connection): void {
    if (connection !== this.#connection) return;
    this.#connection = undefined;
    this.#deps.clock.clearTimeout(connection.settleTimer);
    connection.client.end(true);
    this.#reports.sendOn(undefined);
    this.#telemetry.sendOn(undefined);
    if (this.#closed) return;
    this.#log('info', `disconnected${this.#lastError ? ` (${this.#lastError})` : ''}`);
    this.#failedAttempts += 1;
    this.#retryLater();
  }

  #retryLater(): void {
    if (this.#closed) return;
    this.#setState('offline');
    const { reconnectMinMs, reconnectMaxMs } = this.#timing;
    const doublings = Math.min(Math.max(0, this.#failedAttempts - 1), 20);
    const base = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** doublings);
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    this.#deps.clock.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = this.#deps.clock.setTimeout(() => void this.#connect(), delay);
  }

  // ---- cloud → module ----

  #onMessage(connection: Connection, topic: string, payload: Buffer): void {
    const parsed = parseModuleTopic(topic);
    const kind = parsed?.kind;
    if (
      parsed?.serial !== this.#serial ||
      (kind !== 'commands' && kind !== 'revocation-list' && kind !== 'booking')
    ) {
      this.#log('warn', `ignored a message on ${topic}`);
      return;
    }
    // An empty retained message is the broker clearing the topic: nothing to apply.
    if (payload.length === 0) {
      if (kind !== 'commands') connection.stateSeen.add(kind);
      this.#maybeSettle(connection);
      return;
    }
    const inbound: Inbound = { topic: kind, payload: new Uint8Array(payload), connection };
    (kind === 'commands' ? this.#commandInbox : this.#stateInbox).push(inbound);
    this.#drain();
  }

  /** One message at a time, in arrival order; commands wait until retained state is applied. */
  #drain(): void {
    if (this.#draining) return;
    const next = (): Inbound | undefined =>
      this.#stateInbox.shift() ??
      (this.#connection?.settled ? this.#commandInbox.shift() : undefined);
    this.#draining = (async () => {
      for (let inbound = next(); inbound && !this.#closed; inbound = next()) {
        try {
          const answer = await takeCloudEnvelope(inbound.topic, inbound.payload, this.#intake);
          if (answer) await this.#answer(answer);
        } catch (error) {
          this.#log('error', `a ${inbound.topic} message failed: ${describeError(error)}`);
        }
        if (inbound.topic !== 'commands') {
          inbound.connection.stateSeen.add(inbound.topic);
          this.#maybeSettle(inbound.connection);
        }
      }
    })().finally(() => {
      this.#draining = undefined;
    });
  }

  /**
   * The CommandResult: queued (never lost offline) for envelopes the cloud provably signed;
   * otherwise sent only while connected and at most so many a minute (see EnvelopeAnswer).
   */
  async #answer(answer: EnvelopeAnswer): Promise<void> {
    const { outcome } = answer;
    const ok = outcome.status === CommandStatus.OK;
    this.#log(
      ok ? 'info' : 'warn',
      `${answer.what}: ${CommandStatus[outcome.status]} (${outcome.message})`,
    );
    const body: ModuleBodyInit = {
      case: 'commandResult',
      value: { commandId: answer.commandId, status: outcome.status, message: outcome.message },
    };
    if (answer.authenticated) {
      await this.#reports.add('command-results', body);
      return;
    }
    const nowMs = Math.floor(this.#deps.clock.now());
    const window = this.#answers;
    if (nowMs - window.windowStartMs >= 60_000 || nowMs < window.windowStartMs) {
      this.#answers = { windowStartMs: nowMs, count: 0 };
    }
    const channel = this.#connection?.channel;
    if (!channel?.open) return;
    if (this.#answers.count >= this.#timing.unauthenticatedAnswersPerMinute) return;
    this.#answers.count += 1;
    channel.publish('command-results', await this.#sign(body, nowMs), 1);
  }

  // ---- helpers ----

  #signPresence(state: PresenceState, connectionId: Uint8Array): Promise<Uint8Array> {
    const firmwareVersion = this.#deps.firmwareVersion ?? '0.0.0-dev';
    return this.#sign(
      { case: 'presence', value: { state, firmwareVersion, connectionId } },
      Math.floor(this.#deps.clock.now()),
    );
  }

  #sign(body: ModuleBodyInit, timeMs: number): Promise<Uint8Array> {
    const signer = this.#deps.identity.provisioned?.identity;
    if (!signer) return Promise.reject(new Error('the module identity is gone'));
    return signModuleEnvelope({ moduleSerial: this.#serial, timeMs, body }, signer);
  }

  #setState(state: CloudLinkState): void {
    if (this.#state === state || this.#closed) return;
    this.#state = state;
    this.#notify();
  }

  #notify(): void {
    const status = this.status;
    for (const listener of this.#statusListeners) listener(status);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
