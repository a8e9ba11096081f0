/**
 * How the module link runs (the app's config fills it): the embedded aedes broker on its own
 * port (1883 is Mosquitto's on these machines), or any MQTT broker by URL.
 */
export const DEFAULT_EMBEDDED_BROKER_PORT = 1884;
export const DEFAULT_EMBEDDED_BROKER_HOST = '127.0.0.1';
/** Retained state (revocation list, booking) lives this long unless the caller says otherwise. */
export const DEFAULT_STATE_EXPIRY_MS = 7 * 24 * 60 * 60 * 1000;

export interface EmbeddedBrokerConfig {
  mode: 'embedded';
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 1884; 0 picks a free port (tests). */
  port?: number;
}

export interface ExternalBrokerConfig {
  mode: 'external';
  /** mqtt://, mqtts://, ws:// or wss:// URL. */
  url: string;
  /** The cloud's own credentials on that broker, if it wants any. */
  username?: string;
  password?: string;
  /** PEM of the CA for the broker's TLS certificate. */
  caCertificatePem?: string;
  /** The cloud's client id there. Default "mini-cloud". */
  clientId?: string;
  /**
   * Default true: a persistent MQTT session (clean = false), so the broker queues module reports
   * (QoS 1) while the cloud restarts. Tests on a shared broker turn it off.
   */
  persistentSession?: boolean;
}

export interface ModuleLinkConfig {
  broker: EmbeddedBrokerConfig | ExternalBrokerConfig;
  /**
   * The broker URL written into modules' settings (what a module dials). Default: the embedded
   * broker's mqtt://host:port, or the external URL.
   */
  moduleBrokerUrl?: string;
  /** PEM of the CA modules trust for the broker (goes into their settings). Default none. */
  moduleCaCertificatePem?: string;
  /** Life of a cloud command. Default 5 minutes. */
  commandExpiryMs?: number;
  /** Life of retained state when the caller gives none. Default 7 days. */
  stateExpiryMs?: number;
  /** How long start waits for the broker. Default 10 s. */
  connectTimeoutMs?: number;
  /** Pause between reconnect attempts. Default 1 s. */
  reconnectPeriodMs?: number;
  /** Envelope ids remembered per module (replay check). Default 1024. */
  replayCapacity?: number;
  /** Modules whose replay memory is kept (least recently heard dropped first). Default 10000. */
  replayModules?: number;
  /**
   * Refuse module reports signed longer ago than this. Default none: a module queues signed
   * reports while offline (PROTOCOL.md 16.4).
   */
  maxReportAgeMs?: number;
}
