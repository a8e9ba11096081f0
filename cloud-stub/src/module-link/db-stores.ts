/**
 * The module link's stores on the cloud's database (migration 0004): the module directory from
 * the registrations, link status and reports, fault codes, and the retained state re-published
 * when a module comes online. Plain Kysely that runs on SQLite and PostgreSQL; bigint ms columns
 * come back as strings from PostgreSQL (Number()), bytes as Buffers (copied to Uint8Array).
 */
import type { Kysely } from 'kysely';
import { fromHex, toHex } from '@mini-sharing/shared-protocol/crypto';
import { create, fromBinary, toBinary } from '@mini-sharing/shared-protocol/messages';
import {
  BookingStateSchema,
  CLOUD_BODY_TOPIC,
  CommandResultSchema,
  ModuleEventSchema,
  RevocationListStateSchema,
  TelemetrySchema,
} from '@mini-sharing/shared-protocol/link';
import { shownRegistration } from '../modules/registry.js';
import type { Database, ModuleLinkStatusTable } from '../storage/schema.js';
import type { ModuleDirectory, RegisteredModule } from './directory.js';
import type {
  CommandResultReport,
  EventReport,
  ModuleLinkStatus,
  ModuleReports,
  ReportMeta,
  TelemetryReport,
} from './reports.js';
import type {
  ModuleLink,
  RetainedState,
  RetainedStateSource,
  StateBody,
  StateKind,
} from './module-link.js';
import type { SignedEnvelope } from '../keys/cloud-keys.js';
import type { Selectable } from 'kysely';

const bytesOut = (value: Uint8Array): Uint8Array => new Uint8Array(value);
/** Both drivers take a Buffer for a bytes column (pg would serialise a bare Uint8Array as JSON). */
const bytesIn = (value: Uint8Array): Buffer =>
  Buffer.from(value.buffer, value.byteOffset, value.byteLength);
const millis = (value: number | string | null): number | undefined =>
  value === null ? undefined : Number(value);

/**
 * Who may use the link, from module_registrations: the serial's active registration; a serial
 * whose registrations are all decommissioned is `retired` (the broker refuses its login and its
 * reports are dropped); an unknown serial is undefined.
 *
 * No `runningBooking` yet: bookings come with the owner side. Until then the link cannot check
 * the location rule and keeps positions (the module applies the rule itself).
 */
export class DatabaseModuleDirectory implements ModuleDirectory {
  constructor(private readonly db: Kysely<Database>) {}

  async find(serial: string): Promise<RegisteredModule | undefined> {
    // The active one first, then the latest decommissioned one (history).
    const row = await shownRegistration(this.db, { serial });
    if (!row) return undefined;
    const active = row.status === 'active';
    return {
      serial: row.serial,
      access: active ? 'active' : 'retired',
      username: row.mqtt_username,
      passwordHash: active ? row.mqtt_password_hash : undefined,
      identityPublicKey: fromHex(row.identity_public_key),
    };
  }
}

function statusOf(row: Selectable<ModuleLinkStatusTable>): ModuleLinkStatus {
  const presenceChangedAtMs = millis(row.presence_changed_at_ms);
  const lastContactMs = millis(row.last_contact_ms);
  return {
    serial: row.serial,
    ...(row.presence === null ? {} : { presence: row.presence }),
    ...(row.connection_id === null ? {} : { connectionId: bytesOut(row.connection_id) }),
    ...(row.firmware_version === null ? {} : { firmwareVersion: row.firmware_version }),
    ...(presenceChangedAtMs === undefined ? {} : { presenceChangedAtMs }),
    ...(lastContactMs === undefined ? {} : { lastContactMs }),
  };
}

/** One module connection: what `markConnectionsLost` ends. */
export interface ModuleConnection {
  serial: string;
  connectionId: Uint8Array;
}

/**
 * Link status (module_link_status, one row per module, replaced as a whole) and the reports
 * (module_reports, keyed by the envelope id's hex: a redelivered report is stored once). A
 * report's body is the protobuf of the envelope body's value (Telemetry, ModuleEvent,
 * CommandResult), with the case name: an event's kind ("faultCodeStored"), else "telemetry" or
 * "commandResult". A faultCodeStored event also updates module_fault_codes, in the same
 * transaction, only the first time the report is stored.
 */
export class DatabaseModuleReports implements ModuleReports {
  constructor(private readonly db: Kysely<Database>) {}

  async linkStatus(serial: string): Promise<ModuleLinkStatus | undefined> {
    const row = await this.db
      .selectFrom('module_link_status')
      .selectAll()
      .where('serial', '=', serial)
      .executeTakeFirst();
    return row && statusOf(row);
  }

  async saveLinkStatus(status: ModuleLinkStatus): Promise<void> {
    const values = {
      presence: status.presence ?? null,
      connection_id: status.connectionId ? bytesIn(status.connectionId) : null,
      firmware_version: status.firmwareVersion ?? null,
      presence_changed_at_ms: status.presenceChangedAtMs ?? null,
      last_contact_ms: status.lastContactMs ?? null,
    };
    await this.db
      .insertInto('module_link_status')
      .values({ serial: status.serial, ...values })
      .onConflict((c) => c.column('serial').doUpdateSet(values))
      .execute();
  }

  /**
   * The cloud's embedded broker stopped: these connections ended with it, as their wills would
   * say (connection lost; a will is no contact). A status that moved on (another connection, or
   * already offline) is left alone.
   */
  async markConnectionsLost(connections: readonly ModuleConnection[], atMs: number): Promise<void> {
    for (const { serial, connectionId } of connections) {
      await this.db
        .updateTable('module_link_status')
        .set({ presence: 'connection-lost', presence_changed_at_ms: atMs })
        .where('serial', '=', serial)
        .where('presence', '=', 'online')
        .where('connection_id', '=', bytesIn(connectionId))
        .execute();
    }
  }

  async telemetry(report: TelemetryReport): Promise<void> {
    await this.#store(
      report,
      'telemetry',
      'telemetry',
      toBinary(TelemetrySchema, report.telemetry),
      {
        positionDropped: report.positionDropped,
      },
    );
  }

  async event(report: EventReport): Promise<void> {
    const { kind } = report.event;
    await this.db.transaction().execute(async (trx) => {
      const stored = await this.#store(
        report,
        'event',
        kind.case ?? 'unknown',
        toBinary(ModuleEventSchema, report.event),
        {},
        trx,
      );
      if (!stored || kind.case !== 'faultCodeStored') return;
      // The module's time of the report: when the fault was stored at the car.
      const at = report.sentAtMs;
      const fault = kind.value;
      await trx
        .insertInto('module_fault_codes')
        .values({
          serial: report.serial,
          code: fault.code,
          active: fault.active ? 1 : 0,
          occurrences: fault.occurrences,
          first_reported_ms: at,
          last_reported_ms: at,
        })
        .onConflict((c) =>
          c.columns(['serial', 'code']).doUpdateSet((eb) => {
            // A report sent before the latest one stored (a late delivery) changes only the dates.
            const newer = eb(
              'excluded.last_reported_ms',
              '>=',
              eb.ref('module_fault_codes.last_reported_ms'),
            );
            return {
              active: eb
                .case()
                .when(newer)
                .then(eb.ref('excluded.active'))
                .else(eb.ref('module_fault_codes.active'))
                .end(),
              occurrences: eb
                .case()
                .when(newer)
                .then(eb.ref('excluded.occurrences'))
                .else(eb.ref('module_fault_codes.occurrences'))
                .end(),
              first_reported_ms: eb
                .case()
                .when(
                  'excluded.first_reported_ms',
                  '<',
                  eb.ref('module_fault_codes.first_reported_ms'),
                )
                .then(eb.ref('excluded.first_reported_ms'))
                .else(eb.ref('module_fault_codes.first_reported_ms'))
                .end(),
              last_reported_ms: eb
                .case()
                .when(newer)
                .then(eb.ref('excluded.last_reported_ms'))
                .else(eb.ref('module_fault_codes.last_reported_ms'))
                .end(),
            };
          }),
        )
        .execute();
    });
  }

  async commandResult(report: CommandResultReport): Promise<void> {
    await this.#store(
      report,
      'command-result',
      'commandResult',
      toBinary(CommandResultSchema, report.result),
    );
  }

  /** Stores a report once; true when this call stored it (false: it was there already). */
  async #store(
    report: ReportMeta,
    kind: 'telemetry' | 'event' | 'command-result',
    bodyCase: string,
    body: Uint8Array,
    extra: { positionDropped?: boolean } = {},
    db: Kysely<Database> = this.db,
  ): Promise<boolean> {
    const inserted = await db
      .insertInto('module_reports')
      .values({
        envelope_id: toHex(report.envelopeId),
        serial: report.serial,
        kind,
        body_case: bodyCase,
        body: bytesIn(body),
        sent_at_ms: report.sentAtMs,
        received_at_ms: report.receivedAtMs,
        position_dropped: extra.positionDropped ? 1 : 0,
      })
      .onConflict((c) => c.column('envelope_id').doNothing())
      .returning('envelope_id')
      .executeTakeFirst();
    return inserted !== undefined;
  }
}

/** The retained state topic of each state body, and back. */
const STATE_KIND = {
  revocationList: CLOUD_BODY_TOPIC.revocationList,
  bookingState: CLOUD_BODY_TOPIC.bookingState,
} as const satisfies Record<StateBody['case'], StateKind>;

function encodeStateBody(body: StateBody): Uint8Array {
  return body.case === 'revocationList'
    ? toBinary(RevocationListStateSchema, create(RevocationListStateSchema, body.value))
    : toBinary(BookingStateSchema, create(BookingStateSchema, body.value));
}

function decodeStateBody(kind: StateKind, bytes: Uint8Array): StateBody {
  return kind === 'revocation-list'
    ? { case: 'revocationList', value: fromBinary(RevocationListStateSchema, bytes) }
    : { case: 'bookingState', value: fromBinary(BookingStateSchema, bytes) };
}

/** What a module should hold now (module_retained_state rows not yet expired), re-signed on use. */
export class DatabaseRetainedState implements RetainedStateSource {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async retainedState(serial: string): Promise<RetainedState[]> {
    const rows = await this.db
      .selectFrom('module_retained_state')
      .select(['kind', 'body', 'expires_at_ms'])
      .where('serial', '=', serial)
      .where('expires_at_ms', '>', Math.floor(this.now()))
      .orderBy('kind')
      .execute();
    return rows.map((row) => ({
      body: decodeStateBody(row.kind, bytesOut(row.body)),
      expiresAtMs: Number(row.expires_at_ms),
    }));
  }
}

/**
 * Sets a module's retained state (its revocation list or booking state): stored first, so it is
 * re-published whenever the module comes online, then signed and published now when the link
 * runs. What the owner side calls when it revokes a key or a booking changes.
 */
export async function saveModuleRetainedState(
  db: Kysely<Database>,
  link: ModuleLink | undefined,
  serial: string,
  state: RetainedState,
  now: () => Date = () => new Date(),
): Promise<SignedEnvelope | undefined> {
  const values = {
    body: bytesIn(encodeStateBody(state.body)),
    expires_at_ms: state.expiresAtMs,
    updated_at: now().toISOString(),
  };
  await db
    .insertInto('module_retained_state')
    .values({ serial, kind: STATE_KIND[state.body.case], ...values })
    .onConflict((c) => c.columns(['serial', 'kind']).doUpdateSet(values))
    .execute();
  return link?.publishRetainedState(serial, state.body, { expiresAtMs: state.expiresAtMs });
}

/** Removes a module's retained state of one kind: from the store, then from the broker. */
export async function clearModuleRetainedState(
  db: Kysely<Database>,
  link: ModuleLink | undefined,
  serial: string,
  kind: StateKind,
): Promise<void> {
  await db
    .deleteFrom('module_retained_state')
    .where('serial', '=', serial)
    .where('kind', '=', kind)
    .execute();
  await link?.clearRetainedState(serial, kind);
}
