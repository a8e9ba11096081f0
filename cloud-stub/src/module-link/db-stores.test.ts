/**
 * The module link's database stores on both engines: the directory from registrations, link
 * status, reports stored once, fault codes, retained state and its expiry.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { randomBytes, seedSigner, toHex } from '@mini-sharing/shared-protocol/crypto';
import { create, fromBinary } from '@mini-sharing/shared-protocol/messages';
import {
  CommandResultSchema,
  CommandStatus,
  ModuleEventSchema,
  TelemetrySchema,
  type ModuleEvent,
} from '@mini-sharing/shared-protocol/link';
import { HolderRole } from '@mini-sharing/shared-protocol/trust';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { generateModuleCredentials } from '../keys/module-credentials.js';
import type { ModuleRegistrationRow } from '../storage/schema.js';
import { describeEngines, type TestStorage } from '../storage/testing/engines.js';
import {
  DatabaseModuleDirectory,
  DatabaseModuleReports,
  DatabaseRetainedState,
  clearModuleRetainedState,
  saveModuleRetainedState,
} from './db-stores.js';
import type { EventReport, ReportMeta } from './reports.js';

const SERIAL = 'MSM-24-000777-1';
const T0 = Date.UTC(2026, 5, 1, 12);

async function insertRegistration(
  storage: TestStorage,
  fields: {
    serial: string;
    vin: string;
    status: 'active' | 'decommissioned';
    at: string;
    key: string;
  },
): Promise<{ row: ModuleRegistrationRow; password: string }> {
  const { credentials, passwordHash } = await generateModuleCredentials(fields.serial);
  const row: ModuleRegistrationRow = {
    id: `REG-${randomUUID()}`,
    serial: fields.serial,
    vin: fields.vin,
    hardware_revision: 'HW-B',
    firmware_version: '1.1.0',
    identity_public_key: toHex(seedSigner(testSeed(fields.key)).publicKey),
    certificate: Buffer.from([1, 2, 3]),
    advertising_secret: Buffer.from(randomBytes(32)),
    mqtt_username: fields.serial,
    mqtt_password_hash: passwordHash,
    owner_generation: 0,
    status: fields.status,
    dealer_id: 'DLR-1',
    mechanic_id: 'MEC-1',
    station_id: 'STN-1',
    registered_at: fields.at,
    updated_at: fields.at,
    ready_to_share_at: null,
    decommissioned_at: fields.status === 'decommissioned' ? fields.at : null,
    decommissioned_by: fields.status === 'decommissioned' ? 'ADM-1' : null,
    decommission_reason: null,
  };
  await storage.db.insertInto('module_registrations').values(row).execute();
  return { row, password: credentials.password };
}

const meta = (overrides: Partial<ReportMeta> = {}): ReportMeta => ({
  serial: SERIAL,
  envelopeId: randomBytes(16),
  sentAtMs: T0,
  receivedAtMs: T0 + 50,
  retained: false,
  ...overrides,
});

const faultEvent = (
  code: string,
  active: boolean,
  occurrences: number,
  overrides: Partial<ReportMeta> = {},
): EventReport => ({
  kind: 'event',
  ...meta(overrides),
  event: create(ModuleEventSchema, {
    kind: { case: 'faultCodeStored', value: { code, active, occurrences } },
  }),
});

const faultCodes = (storage: TestStorage) =>
  storage.db
    .selectFrom('module_fault_codes')
    .selectAll()
    .orderBy('code')
    .execute()
    .then((rows) =>
      rows.map((row) => ({
        ...row,
        first_reported_ms: Number(row.first_reported_ms),
        last_reported_ms: Number(row.last_reported_ms),
      })),
    );

describeEngines('module link database stores', (storage) => {
  describe('directory', () => {
    it('finds the active registration: active, its credentials hash and identity key', async () => {
      const directory = new DatabaseModuleDirectory(storage().db);
      await insertRegistration(storage(), {
        serial: SERIAL,
        vin: 'WMW31DH0302S71642',
        status: 'decommissioned',
        at: '2026-01-01T00:00:00.000Z',
        key: 'old module',
      });
      const { row } = await insertRegistration(storage(), {
        serial: SERIAL,
        vin: 'WMW51DK0X02R13377',
        status: 'active',
        at: '2025-01-01T00:00:00.000Z',
        key: 'current module',
      });
      const found = await directory.find(SERIAL);
      expect(found).toEqual({
        serial: SERIAL,
        access: 'active',
        username: SERIAL,
        passwordHash: row.mqtt_password_hash,
        identityPublicKey: seedSigner(testSeed('current module')).publicKey,
      });
    });

    it('a decommissioned-only serial is retired, without a password; an unknown one is undefined', async () => {
      const directory = new DatabaseModuleDirectory(storage().db);
      await insertRegistration(storage(), {
        serial: SERIAL,
        vin: 'WMW31DH0302S71642',
        status: 'decommissioned',
        at: '2026-01-01T00:00:00.000Z',
        key: 'old module',
      });
      const found = await directory.find(SERIAL);
      expect(found?.access).toBe('retired');
      expect(found?.passwordHash).toBeUndefined();
      expect(found?.identityPublicKey).toEqual(seedSigner(testSeed('old module')).publicKey);
      expect(await directory.find('MSM-24-999999-9')).toBeUndefined();
      // No bookings yet: the directory does not claim to know the running one.
      expect('runningBooking' in directory).toBe(false);
    });
  });

  describe('reports', () => {
    it('round-trips a link status, replacing it as a whole', async () => {
      const reports = new DatabaseModuleReports(storage().db);
      expect(await reports.linkStatus(SERIAL)).toBeUndefined();
      await reports.saveLinkStatus({ serial: SERIAL, lastContactMs: T0 });
      expect(await reports.linkStatus(SERIAL)).toEqual({ serial: SERIAL, lastContactMs: T0 });
      const connectionId = randomBytes(16);
      const full = {
        serial: SERIAL,
        presence: 'online' as const,
        connectionId,
        firmwareVersion: '1.4.0',
        presenceChangedAtMs: T0 + 1,
        lastContactMs: T0 + 2,
      };
      await reports.saveLinkStatus(full);
      expect(await reports.linkStatus(SERIAL)).toEqual(full);
      await reports.saveLinkStatus({ serial: SERIAL, presence: 'offline' });
      expect(await reports.linkStatus(SERIAL)).toEqual({ serial: SERIAL, presence: 'offline' });
    });

    it('marks connections lost only where that connection is still online', async () => {
      const reports = new DatabaseModuleReports(storage().db);
      const connectionId = randomBytes(16);
      const online = {
        serial: SERIAL,
        presence: 'online' as const,
        connectionId,
        presenceChangedAtMs: T0,
        lastContactMs: T0,
      };
      await reports.saveLinkStatus(online);
      await reports.saveLinkStatus({ ...online, serial: 'MSM-24-000778-1' });
      await reports.markConnectionsLost(
        [
          { serial: SERIAL, connectionId },
          { serial: 'MSM-24-000778-1', connectionId: randomBytes(16) },
        ],
        T0 + 10,
      );
      expect(await reports.linkStatus(SERIAL)).toEqual({
        ...online,
        presence: 'connection-lost',
        presenceChangedAtMs: T0 + 10,
      });
      expect((await reports.linkStatus('MSM-24-000778-1'))?.presence).toBe('online');
    });

    it('stores each report once, however often it is delivered, with its body and case', async () => {
      const reports = new DatabaseModuleReports(storage().db);
      const event = faultEvent('B1C42', true, 1);
      await reports.event(event);
      await reports.event({ ...event, receivedAtMs: T0 + 9_000 });
      const telemetry = { kind: 'telemetry' as const, ...meta(), positionDropped: true };
      await reports.telemetry({
        ...telemetry,
        telemetry: create(TelemetrySchema, {
          odometerKm: 12_345,
        }),
      });
      const commandResult = {
        kind: 'command-result' as const,
        ...meta(),
        result: create(CommandResultSchema, {
          commandId: randomBytes(16),
          status: CommandStatus.OK,
        }),
      };
      await reports.commandResult(commandResult);
      await reports.commandResult(commandResult);
      const rows = await storage()
        .db.selectFrom('module_reports')
        .selectAll()
        .orderBy('kind')
        .execute();
      expect(
        rows.map((row) => [row.kind, row.body_case, row.position_dropped, Number(row.sent_at_ms)]),
      ).toEqual([
        ['command-result', 'commandResult', 0, T0],
        ['event', 'faultCodeStored', 0, T0],
        ['telemetry', 'telemetry', 1, T0],
      ]);
      const eventRow = rows.find((row) => row.kind === 'event')!;
      expect(eventRow.envelope_id).toBe(toHex(event.envelopeId));
      expect(Number(eventRow.received_at_ms)).toBe(T0 + 50);
      const body: ModuleEvent = fromBinary(ModuleEventSchema, new Uint8Array(eventRow.body));
      expect(body.kind).toEqual(event.event.kind);
      // The redelivered event did not count the fault twice.
      expect((await faultCodes(storage())).map((f) => f.occurrences)).toEqual([1]);
    });

    it('upserts fault codes: first report kept, latest state and count, late reports only widen the dates', async () => {
      const reports = new DatabaseModuleReports(storage().db);
      await reports.event(faultEvent('B1C42', true, 1, { sentAtMs: T0 }));
      await reports.event(faultEvent('U0100', true, 1, { sentAtMs: T0 + 5 }));
      await reports.event(faultEvent('B1C42', true, 3, { sentAtMs: T0 + 1_000 }));
      await reports.event(faultEvent('B1C42', false, 4, { sentAtMs: T0 + 2_000 }));
      // Sent between the others but delivered last (from a module's offline queue).
      await reports.event(faultEvent('B1C42', true, 2, { sentAtMs: T0 + 500 }));
      expect(await faultCodes(storage())).toEqual([
        {
          serial: SERIAL,
          code: 'B1C42',
          active: 0,
          occurrences: 4,
          first_reported_ms: T0,
          last_reported_ms: T0 + 2_000,
        },
        {
          serial: SERIAL,
          code: 'U0100',
          active: 1,
          occurrences: 1,
          first_reported_ms: T0 + 5,
          last_reported_ms: T0 + 5,
        },
      ]);
      // A report older than the first one moves the first date back.
      await reports.event(faultEvent('U0100', true, 1, { sentAtMs: T0 - 100 }));
      expect((await faultCodes(storage()))[1]).toMatchObject({
        first_reported_ms: T0 - 100,
        last_reported_ms: T0 + 5,
      });
    });
  });

  describe('retained state', () => {
    it('gives back what is stored and not expired, decoded; replaced per kind; cleared', async () => {
      let nowMs = T0;
      const state = new DatabaseRetainedState(storage().db, () => nowMs);
      const revocationList = {
        case: 'revocationList' as const,
        value: { revocationList: new Uint8Array([9, 8, 7]) },
      };
      const booking = {
        case: 'bookingState' as const,
        value: {
          running: {
            bookingId: 'booking-1',
            tokenId: new Uint8Array(16).fill(1),
            role: HolderRole.DRIVER,
            startedAtMs: BigInt(T0),
            bookingEndMs: BigInt(T0 + 3_600_000),
          },
        },
      };
      const db = storage().db;
      await saveModuleRetainedState(db, undefined, SERIAL, {
        body: { case: 'revocationList', value: { revocationList: new Uint8Array([1]) } },
        expiresAtMs: T0 + 1_000,
      });
      await saveModuleRetainedState(db, undefined, SERIAL, {
        body: revocationList,
        expiresAtMs: T0 + 10_000,
      });
      await saveModuleRetainedState(db, undefined, SERIAL, {
        body: booking,
        expiresAtMs: T0 + 5_000,
      });
      const held = await state.retainedState(SERIAL);
      expect(held.map((s) => [s.body.case, s.expiresAtMs])).toEqual([
        ['bookingState', T0 + 5_000],
        ['revocationList', T0 + 10_000],
      ]);
      const [bookingHeld, listHeld] = held;
      expect(
        bookingHeld?.body.case === 'bookingState' && bookingHeld.body.value.running,
      ).toMatchObject(booking.value.running);
      expect(
        listHeld?.body.case === 'revocationList' && listHeld.body.value.revocationList,
      ).toEqual(new Uint8Array([9, 8, 7]));
      expect(await state.retainedState('MSM-24-000778-1')).toEqual([]);

      nowMs = T0 + 5_000; // the booking state has expired
      expect((await state.retainedState(SERIAL)).map((s) => s.body.case)).toEqual([
        'revocationList',
      ]);
      await clearModuleRetainedState(db, undefined, SERIAL, 'revocation-list');
      expect(await state.retainedState(SERIAL)).toEqual([]);
    });
  });
});
