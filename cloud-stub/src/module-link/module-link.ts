/**
 * The cloud's side of the module link (PROTOCOL.md 16): an MQTT client (`mqtt`) on the embedded
 * broker or any broker by URL. It subscribes to every module's module → cloud topics, checks
 * every message (intake.ts: topic and size at the edge, the module's registered identity key,
 * replay), applies presence and last contact, hands reports to the ModuleReports sink, and
 * publishes signed commands and retained signed state to modules.
 *
 * Nothing a module or the broker sends can make it throw: a message that fails a check is
 * dropped, counted by reason and logged (throttled). Messages are taken one at a time in arrival
 * order (MQTT keeps per-topic order, which presence relies on), and a QoS 1 message is
 * acknowledged only once it has been handled (its report stored, or dropped and counted): with a
 * persistent session on an external broker, nothing the broker took is lost while the cloud is
 * away or restarting.
 */
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { randomBytes, toHex, bytesEqual } from '@mini-sharing/shared-protocol/crypto';
import {
  CLOUD_BODY_TOPIC,
  PresenceState,
  cloudSubscriptions,
  isValidModuleSerial,
  moduleTopic,
  type CloudBodyInit,
} from '@mini-sharing/shared-protocol/link';
import { encodeModuleLinkSettings } from '@mini-sharing/shared-protocol/trust';
import type { CloudKeys, SignedEnvelope } from '../keys/cloud-keys.js';
import type { ModuleCredentials } from '../keys/module-credentials.js';
import { startEmbeddedBroker, type BrokerRefusals, type EmbeddedBroker } from './broker.js';
import {
  DEFAULT_EMBEDDED_BROKER_HOST,
  DEFAULT_EMBEDDED_BROKER_PORT,
  DEFAULT_STATE_EXPIRY_MS,
  type ModuleLinkConfig,
} from './config.js';
import type { ModuleDirectory } from './directory.js';
import { ModuleReplayMemory, takeModuleMessage, type DropReason } from './intake.js';
import { ThrottledLog, type LinkLogger, type LogLevel } from './log.js';
import type {
  ModuleLinkStatus,
  ModuleReport,
  ModuleReports,
  PresenceReport,
  PresenceStatus,
} from './reports.js';

/** Bodies for the commands topic. */
export type CommandBody = Extract<
  CloudBodyInit,
  {
    case:
      | 'bookingStarted'
      | 'bookingEnded'
      | 'timeSync'
      | 'cloudKeyRotation'
      | 'newOwnerReset'
      | 'telemetryRequest';
  }
>;
/** Bodies for the retained state topics. */
export type StateBody = Extract<CloudBodyInit, { case: 'revocationList' | 'bookingState' }>;
export type StateKind = 'revocation-list' | 'booking';

/** A module's current retained state, re-signed and re-published when it comes online. */
export interface RetainedState {
  body: StateBody;
  /** When what it describes ends (booking: its key's validity; list: e.g. 7 days). */
  expiresAtMs: number;
}

export interface RetainedStateSource {
  /** What the module should hold now; an empty list publishes nothing. */
  retainedState(serial: string): Promise<RetainedState[]>;
}

export interface StartModuleLinkOptions {
  config: ModuleLinkConfig;
  keys: CloudKeys;
  directory: ModuleDirectory;
  reports: ModuleReports;
  logger: LinkLogger;
  /** Without it nothing is re-published when a module comes online. */
  state?: RetainedStateSource;
  /** Cloud clock. Default Date.now. */
  now?: () => number;
}

/** Why a message was not taken: intake's reasons, a stale will, or a sink that failed. */
export type LinkDropReason = DropReason | 'stale-will' | 'bad-presence' | 'sink-failed';

export interface LinkDrop {
  reason: LinkDropReason;
  /** The serial of the topic, when the topic was a module's. */
  serial?: string;
  message: string;
}

export interface ModuleLinkStats {
  /** Messages on the cloud's subscriptions. */
  received: number;
  /** Reports handed to the sink (presence included). */
  accepted: number;
  dropped: Partial<Record<LinkDropReason, number>>;
  /** Envelopes published (commands and state). */
  published: number;
  /** The embedded broker's refusals (undefined with an external broker). */
  broker?: Readonly<BrokerRefusals>;
}

export interface PublishOptions {
  /** Default: the config's command expiry (5 minutes). */
  expiresInMs?: number;
  /** Envelope id; default 16 random bytes. The module runs an id at most once. */
  id?: Uint8Array;
}

export interface StateOptions {
  /** Absolute expiry; wins over expiresInMs. */
  expiresAtMs?: number;
  /** Default: the config's state expiry (7 days). */
  expiresInMs?: number;
}

export interface ModuleLink {
  /** The embedded broker's port (undefined with an external broker). */
  readonly brokerPort: number | undefined;
  /** Where the cloud's client connects. */
  readonly brokerUrl: string;
  /** What modules are told to dial (their module-link settings). */
  readonly moduleBrokerUrl: string;
  readonly embeddedBroker: EmbeddedBroker | undefined;
  /** The cloud's client is connected now. */
  readonly connected: boolean;
  /** Signs a command for one module (current signing key) and publishes it (QoS 1). */
  publishCommand(
    serial: string,
    body: CommandBody,
    options?: PublishOptions,
  ): Promise<SignedEnvelope>;
  /** Signs retained state for one module and publishes it retained on its state topic. */
  publishRetainedState(
    serial: string,
    body: StateBody,
    options?: StateOptions,
  ): Promise<SignedEnvelope>;
  /** Removes a retained state message from the broker. */
  clearRetainedState(serial: string, kind: StateKind): Promise<void>;
  /** Presence and last contact, as stored. */
  moduleLinkStatus(serial: string): Promise<ModuleLinkStatus | undefined>;
  /** Encoded ModuleLinkSettings for provisioning: this broker, the credentials, both keys. */
  moduleLinkSettings(module: {
    serial: string;
    credentials: ModuleCredentials;
    advertisingSecret: Uint8Array;
  }): Uint8Array;
  stats(): ModuleLinkStats;
  /** Called with every report taken (after the sink stored it); returns the unsubscribe. */
  onReport(listener: (report: ModuleReport) => void): () => void;
  /** Called with every message dropped, unthrottled (for metrics and tests). */
  onDrop(listener: (drop: LinkDrop) => void): () => void;
  /** Disconnects the cloud client and stops the embedded broker. */
  close(): Promise<void>;
}

const PRESENCE: Partial<Record<PresenceState, PresenceStatus>> = {
  [PresenceState.ONLINE]: 'online',
  [PresenceState.OFFLINE]: 'offline',
  [PresenceState.CONNECTION_LOST]: 'connection-lost',
};

/** Drops logged at debug level: normal on a working link. */
const QUIET_DROPS = new Set<LinkDropReason>(['empty', 'replayed']);

/** Starts the embedded broker (if configured), connects and subscribes; rejects if it cannot. */
export async function startModuleLink(options: StartModuleLinkOptions): Promise<ModuleLink> {
  const { config, logger } = options;
  let broker: EmbeddedBroker | undefined;
  let url: string;
  let login: { clientId: string; username?: string; password?: string; ca?: string };
  let clean = true;
  if (config.broker.mode === 'embedded') {
    const cloudLogin = {
      clientId: `mini-cloud:${toHex(randomBytes(8))}`,
      username: 'mini-cloud',
      password: Buffer.from(randomBytes(32)).toString('base64url'),
    };
    broker = await startEmbeddedBroker({
      host: config.broker.host ?? DEFAULT_EMBEDDED_BROKER_HOST,
      port: config.broker.port ?? DEFAULT_EMBEDDED_BROKER_PORT,
      directory: options.directory,
      cloud: cloudLogin,
      logger,
    });
    url = broker.url;
    login = cloudLogin;
  } else {
    url = config.broker.url;
    login = {
      clientId: config.broker.clientId ?? 'mini-cloud',
      ...(config.broker.username ? { username: config.broker.username } : {}),
      ...(config.broker.password ? { password: config.broker.password } : {}),
      ...(config.broker.caCertificatePem ? { ca: config.broker.caCertificatePem } : {}),
    };
    clean = !(config.broker.persistentSession ?? true);
  }
  const link = new CloudModuleLink(options, broker, url);
  try {
    await link.connect(login, clean);
  } catch (error) {
    await broker?.close();
    throw error;
  }
  return link;
}

class CloudModuleLink implements ModuleLink {
  readonly #options: StartModuleLinkOptions;
  readonly #now: () => number;
  readonly #log: ThrottledLog;
  readonly #replay: ModuleReplayMemory;
  readonly #listeners = new Set<(report: ModuleReport) => void>();
  readonly #dropListeners = new Set<(drop: LinkDrop) => void>();
  readonly #stats = { received: 0, accepted: 0, published: 0 };
  readonly #dropped: Partial<Record<LinkDropReason, number>> = {};
  readonly #republishing = new Set<Promise<void>>();
  #client: MqttClient | undefined;
  #closed = false;

  constructor(
    options: StartModuleLinkOptions,
    readonly embeddedBroker: EmbeddedBroker | undefined,
    readonly brokerUrl: string,
  ) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = new ThrottledLog(options.logger);
    this.#replay = new ModuleReplayMemory(
      options.config.replayCapacity ?? 1024,
      options.config.replayModules ?? 10_000,
    );
  }

  get brokerPort(): number | undefined {
    return this.embeddedBroker?.port;
  }

  get moduleBrokerUrl(): string {
    return this.#options.config.moduleBrokerUrl ?? this.brokerUrl;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  async connect(
    login: { clientId: string; username?: string; password?: string; ca?: string },
    clean: boolean,
  ): Promise<void> {
    const { config, logger } = this.#options;
    const mqttOptions: IClientOptions = {
      clientId: login.clientId,
      clean,
      protocolVersion: 4,
      reconnectPeriod: config.reconnectPeriodMs ?? 1_000,
      connectTimeout: config.connectTimeoutMs ?? 10_000,
      resubscribe: false,
      ...(login.username ? { username: login.username } : {}),
      ...(login.password ? { password: login.password } : {}),
      ...(login.ca ? { ca: login.ca } : {}),
    };
    const client = connect(this.brokerUrl, mqttOptions);
    this.#client = client;
    client.handleMessage = (packet, done) => {
      void this.#take(packet).finally(() => done());
    };
    let lastError: string | undefined;
    client.on('error', (error) => {
      lastError = error.message;
      this.#log.log(
        'warn',
        'client-error',
        { url: this.brokerUrl, err: error.message },
        'MQTT client error',
      );
    });
    client.on('offline', () => {
      if (!this.#closed)
        logger.warn({ url: this.brokerUrl }, 'module link: broker unreachable, reconnecting');
    });
    const subscribed = new Promise<void>((resolve, reject) => {
      client.on('connect', () => {
        client.subscribe(
          cloudSubscriptions()
            .map((filter) => ({ [filter]: { qos: 1 as const } }))
            .reduce((all, one) => ({ ...all, ...one }), {}),
          (error, granted) => {
            const refused = (granted ?? []).filter((grant) => grant.qos === 128);
            if (error || refused.length > 0) {
              const why = error?.message ?? `refused: ${refused.map((g) => g.topic).join(', ')}`;
              logger.error({ url: this.brokerUrl, why }, 'module link: subscribing failed');
              reject(
                new Error(
                  `The MQTT broker at ${this.brokerUrl} refused the cloud's subscriptions (${why})`,
                ),
              );
              return;
            }
            logger.info({ url: this.brokerUrl }, 'module link: connected and subscribed');
            resolve();
          },
        );
      });
    });
    // A later reconnect's failure is logged above; it must not surface as an unhandled rejection.
    subscribed.catch(() => undefined);
    const timeoutMs = config.connectTimeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Cannot reach the MQTT broker at ${this.brokerUrl} within ${timeoutMs} ms` +
                (lastError ? `: ${lastError}` : ''),
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([subscribed, timeout]);
    } catch (error) {
      this.#closed = true;
      await client.endAsync(true).catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- intake ----

  async #take(packet: IPublishPacket): Promise<void> {
    this.#stats.received += 1;
    try {
      // A copy: reports keep views into it (ids, bytes), and the packet's buffer is not ours.
      const payload =
        typeof packet.payload === 'string'
          ? new TextEncoder().encode(packet.payload)
          : new Uint8Array(packet.payload);
      const { directory } = this.#options;
      const result = await takeModuleMessage(packet.topic, payload, packet.retain, {
        directory,
        seen: (serial) => this.#replay.seen(serial),
        nowMs: Math.floor(this.#now()),
        ...(this.#options.config.maxReportAgeMs === undefined
          ? {}
          : { maxAgeMs: this.#options.config.maxReportAgeMs }),
      });
      if (!result.ok) {
        this.#drop(
          result.reason,
          { serial: result.serial, topic: packet.topic.slice(0, 200), retained: packet.retain },
          result.message,
        );
        return;
      }
      try {
        await this.#apply(result.report);
      } catch (error) {
        this.#drop(
          'sink-failed',
          { serial: result.report.serial, topic: packet.topic.slice(0, 200), err: String(error) },
          `storing a ${result.report.kind} report failed (the report is lost)`,
        );
      }
    } catch (error) {
      // Only a bug lands here: the intake never throws.
      this.#options.logger.error({ err: String(error) }, 'module link: a message failed');
    }
  }

  async #apply(report: ModuleReport): Promise<void> {
    const { reports } = this.#options;
    if (report.kind === 'presence') {
      const outcome = await this.#applyPresence(report);
      if (outcome !== 'applied') return;
    } else {
      await this.#touch(report);
      if (report.kind === 'telemetry') {
        if (report.positionDropped) {
          this.#log.log(
            'warn',
            `position:${report.serial}`,
            { serial: report.serial },
            'telemetry position dropped: a driver’s booking runs (location rule)',
          );
        }
        await reports.telemetry(report);
      } else if (report.kind === 'event') {
        await reports.event(report);
      } else {
        await reports.commandResult(report);
      }
    }
    this.#stats.accepted += 1;
    for (const listener of this.#listeners) {
      try {
        listener(report);
      } catch (error) {
        this.#options.logger.error({ err: String(error) }, 'module link: a report listener threw');
      }
    }
  }

  /** When a report says the module was in touch: now, or for retained ones when it was sent. */
  #contactTime(report: ModuleReport): number {
    return report.retained ? Math.min(report.sentAtMs, report.receivedAtMs) : report.receivedAtMs;
  }

  async #touch(report: ModuleReport): Promise<void> {
    const { reports } = this.#options;
    const old = await reports.linkStatus(report.serial);
    const contact = this.#contactTime(report);
    if (old?.lastContactMs !== undefined && old.lastContactMs >= contact) return;
    await reports.saveLinkStatus({ ...(old ?? { serial: report.serial }), lastContactMs: contact });
  }

  /**
   * PROTOCOL.md 16.6: presence in arrival order; a will (CONNECTION_LOST) naming another
   * connection than the latest presence is stale and ignored. A will is the broker speaking, so
   * it does not move the last contact.
   */
  async #applyPresence(report: PresenceReport): Promise<'applied' | 'ignored'> {
    const { reports } = this.#options;
    const { presence, serial } = report;
    const state = PRESENCE[presence.state];
    if (!state) {
      this.#drop(
        'bad-presence',
        { serial },
        `presence state ${presence.state} is not one the cloud knows`,
      );
      return 'ignored';
    }
    const old = await reports.linkStatus(serial);
    const sameConnection =
      old?.connectionId !== undefined && bytesEqual(old.connectionId, presence.connectionId);
    if (state === 'connection-lost' && old?.connectionId !== undefined && !sameConnection) {
      this.#drop('stale-will', { serial }, 'a last will of an older connection: ignored');
      return 'ignored';
    }
    const unchanged = sameConnection && old?.presence === state;
    const contact = state === 'connection-lost' ? undefined : this.#contactTime(report);
    const lastContactMs =
      contact === undefined ? old?.lastContactMs : Math.max(old?.lastContactMs ?? contact, contact);
    const firmwareVersion = presence.firmwareVersion || old?.firmwareVersion;
    await reports.saveLinkStatus({
      serial,
      presence: state,
      connectionId: presence.connectionId,
      ...(firmwareVersion ? { firmwareVersion } : {}),
      presenceChangedAtMs: unchanged
        ? (old?.presenceChangedAtMs ?? report.receivedAtMs)
        : report.receivedAtMs,
      ...(lastContactMs === undefined ? {} : { lastContactMs }),
    });
    if (!unchanged) {
      this.#options.logger.info(
        {
          serial,
          presence: state,
          connectionId: toHex(presence.connectionId),
          retained: report.retained,
        },
        'module presence',
      );
    }
    if (state === 'online' && !report.retained) this.#republishState(serial);
    return 'applied';
  }

  /** PROTOCOL.md 16.6: the cloud re-signs and re-publishes retained state when a module comes online. */
  #republishState(serial: string): void {
    const source = this.#options.state;
    if (!source || this.#closed) return;
    const work = (async () => {
      try {
        for (const state of await source.retainedState(serial)) {
          await this.publishRetainedState(serial, state.body, { expiresAtMs: state.expiresAtMs });
        }
      } catch (error) {
        this.#options.logger.error(
          { serial, err: String(error) },
          'module link: re-publishing retained state failed',
        );
      }
    })();
    this.#republishing.add(work);
    void work.finally(() => this.#republishing.delete(work));
  }

  #drop(
    reason: LinkDropReason,
    fields: { serial?: string } & Record<string, unknown>,
    message: string,
  ): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
    const drop: LinkDrop = {
      reason,
      message,
      ...(fields.serial === undefined ? {} : { serial: fields.serial }),
    };
    for (const listener of this.#dropListeners) {
      try {
        listener(drop);
      } catch {
        // a listener's problem is not the link's
      }
    }
    let level: LogLevel = 'warn';
    if (QUIET_DROPS.has(reason)) level = 'debug';
    else if (reason === 'stale-will') level = 'info';
    else if (reason === 'sink-failed') level = 'error';
    this.#log.log(
      level,
      `drop:${reason}`,
      { ...fields, reason },
      `module link: message dropped (${reason}): ${message}`,
    );
  }

  // ---- publishing ----

  async publishCommand(
    serial: string,
    body: CommandBody,
    options: PublishOptions = {},
  ): Promise<SignedEnvelope> {
    if (CLOUD_BODY_TOPIC[body.case] !== 'commands') {
      throw new RangeError(`${body.case} is retained state: use publishRetainedState`);
    }
    return this.#publish(serial, 'commands', body, false, {
      expiresInMs: options.expiresInMs ?? this.#options.config.commandExpiryMs,
      ...(options.id ? { id: options.id } : {}),
    });
  }

  async publishRetainedState(
    serial: string,
    body: StateBody,
    options: StateOptions = {},
  ): Promise<SignedEnvelope> {
    const kind: string = CLOUD_BODY_TOPIC[body.case];
    if (kind !== 'revocation-list' && kind !== 'booking')
      throw new RangeError(`${body.case} is a command: use publishCommand`);
    return this.#publish(serial, kind, body, true, {
      ...(options.expiresAtMs === undefined ? {} : { expiresAtMs: options.expiresAtMs }),
      expiresInMs:
        options.expiresInMs ?? this.#options.config.stateExpiryMs ?? DEFAULT_STATE_EXPIRY_MS,
    });
  }

  async clearRetainedState(serial: string, kind: StateKind): Promise<void> {
    const client = this.#requireClient();
    await client.publishAsync(moduleTopic(serial, kind), Buffer.alloc(0), { qos: 1, retain: true });
  }

  async #publish(
    serial: string,
    kind: 'commands' | StateKind,
    body: CloudBodyInit,
    retain: boolean,
    times: { expiresInMs?: number; expiresAtMs?: number; id?: Uint8Array },
  ): Promise<SignedEnvelope> {
    if (!isValidModuleSerial(serial)) throw new RangeError(`not a valid module serial: ${serial}`);
    const client = this.#requireClient();
    const signed = await this.#options.keys.signCloudEnvelope({
      moduleSerial: serial,
      body,
      ...times,
    });
    await client.publishAsync(moduleTopic(serial, kind), Buffer.from(signed.bytes), {
      qos: 1,
      retain,
    });
    this.#stats.published += 1;
    this.#options.logger.debug(
      { serial, body: body.case, id: toHex(signed.id), expiresAtMs: signed.expiresAtMs },
      'module link: published',
    );
    return signed;
  }

  #requireClient(): MqttClient {
    if (!this.#client || this.#closed) throw new Error('The module link is closed');
    return this.#client;
  }

  // ---- the rest ----

  moduleLinkStatus(serial: string): Promise<ModuleLinkStatus | undefined> {
    return this.#options.reports.linkStatus(serial);
  }

  moduleLinkSettings(module: {
    serial: string;
    credentials: ModuleCredentials;
    advertisingSecret: Uint8Array;
  }): Uint8Array {
    return encodeModuleLinkSettings({
      brokerUrl: this.moduleBrokerUrl,
      clientId: module.serial,
      username: module.credentials.username,
      password: module.credentials.password,
      caCertificatePem: this.#options.config.moduleCaCertificatePem ?? '',
      cloudSigningKeys: this.#options.keys.moduleLinkCertificates(),
      advertisingSecret: module.advertisingSecret,
    });
  }

  stats(): ModuleLinkStats {
    return {
      ...this.#stats,
      dropped: { ...this.#dropped },
      ...(this.embeddedBroker ? { broker: { ...this.embeddedBroker.refusals } } : {}),
    };
  }

  onReport(listener: (report: ModuleReport) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onDrop(listener: (drop: LinkDrop) => void): () => void {
    this.#dropListeners.add(listener);
    return () => this.#dropListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#republishing]);
    const client = this.#client;
    if (client) {
      // A clean DISCONNECT; forced if the broker does not answer in time.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), 2_000);
      });
      const ended = await Promise.race([client.endAsync().catch(() => 'late' as const), late]);
      clearTimeout(timer);
      if (ended === 'late') await client.endAsync(true).catch(() => undefined);
    }
    await this.embeddedBroker?.close();
  }
}
