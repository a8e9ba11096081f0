/**
 * Where the module link hands what modules send, once verified: presence and last contact (a
 * link status per module), telemetry, events and command results. The link decides (stale wills,
 * location rule, what counts as contact); a sink only stores. The database-backed sink implements
 * the same interface; the in-memory one serves tests.
 */
import type {
  CommandResult,
  ModuleEvent,
  Presence,
  Telemetry,
} from '@mini-sharing/shared-protocol/link';

export type PresenceStatus = 'online' | 'offline' | 'connection-lost';

export interface ModuleLinkStatus {
  serial: string;
  /** Undefined until a presence arrived (other reports may have set lastContactMs). */
  presence?: PresenceStatus;
  /** The connection the presence names (16 bytes): a will of another connection is stale. */
  connectionId?: Uint8Array;
  firmwareVersion?: string;
  /** Cloud time the presence last changed. */
  presenceChangedAtMs?: number;
  /**
   * Cloud time the module was last heard from: any verified message it sent itself. A will is
   * the broker's, not the module's, so it changes presence but not this.
   */
  lastContactMs?: number;
}

/** Facts every report carries. `envelopeId` is unique per report: a store may key on it. */
export interface ReportMeta {
  serial: string;
  envelopeId: Uint8Array;
  /** Module time when it signed the report (when the event happened). */
  sentAtMs: number;
  /** Cloud time when the report arrived. */
  receivedAtMs: number;
  /** Delivered by the broker from its retained store (e.g. presence when the cloud subscribes). */
  retained: boolean;
}

export interface PresenceReport extends ReportMeta {
  kind: 'presence';
  presence: Presence;
}
export interface TelemetryReport extends ReportMeta {
  kind: 'telemetry';
  telemetry: Telemetry;
  /** The module sent a position during a driver's booking: removed (location rule). */
  positionDropped: boolean;
}
export interface EventReport extends ReportMeta {
  kind: 'event';
  event: ModuleEvent;
}
export interface CommandResultReport extends ReportMeta {
  kind: 'command-result';
  result: CommandResult;
}
export type ModuleReport = PresenceReport | TelemetryReport | EventReport | CommandResultReport;

export interface ModuleReports {
  linkStatus(serial: string): Promise<ModuleLinkStatus | undefined>;
  /** Replaces the module's link status (presence, last contact). */
  saveLinkStatus(status: ModuleLinkStatus): Promise<void>;
  telemetry(report: TelemetryReport): Promise<void>;
  event(report: EventReport): Promise<void>;
  commandResult(report: CommandResultReport): Promise<void>;
}

const copyStatus = (status: ModuleLinkStatus): ModuleLinkStatus => ({
  ...status,
  ...(status.connectionId ? { connectionId: new Uint8Array(status.connectionId) } : {}),
});

export class InMemoryModuleReports implements ModuleReports {
  readonly statuses = new Map<string, ModuleLinkStatus>();
  /** Every status saved, in order (tests read the history). */
  readonly statusHistory: ModuleLinkStatus[] = [];
  readonly telemetryReports: TelemetryReport[] = [];
  readonly events: EventReport[] = [];
  readonly commandResults: CommandResultReport[] = [];

  async linkStatus(serial: string): Promise<ModuleLinkStatus | undefined> {
    const status = this.statuses.get(serial);
    return status && copyStatus(status);
  }

  async saveLinkStatus(status: ModuleLinkStatus): Promise<void> {
    this.statuses.set(status.serial, copyStatus(status));
    this.statusHistory.push(copyStatus(status));
  }

  async telemetry(report: TelemetryReport): Promise<void> {
    this.telemetryReports.push(report);
  }

  async event(report: EventReport): Promise<void> {
    this.events.push(report);
  }

  async commandResult(report: CommandResultReport): Promise<void> {
    this.commandResults.push(report);
  }
}
