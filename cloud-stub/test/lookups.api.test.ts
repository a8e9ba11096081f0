/**
 * Look-ups on both engines, with real sign-ins: a module's record by serial or VIN shows what the
 * module link last heard (presence, last contact, firmware, fault codes) and the latest
 * installation report; staff of any dealer and agents may look; every look-up writes exactly
 * one audit row (found or not) with who, where and what; agents read the audit log.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { sampleInstallationReportJson } from '@mini-sharing/shared-protocol/diagnostics';
import { buildApp, type CloudApp } from '../src/app.js';
import { describeEngines } from '../src/storage/testing/engines.js';
import { ORDER_5GE, ORDER_NO_5GE, TEST_NOW, testConfig } from './helpers.js';
import {
  insertModuleRegistration,
  seedWorkshopWorld,
  signIn,
  type PersonId,
  type WorkshopWorld,
} from './workshop-fixture.js';

const SERIAL = 'MSM-24-001234-3';
const REPLACEMENT = 'MSM-24-005018-X';
const NEVER_SEEN = 'MSM-24-000777-1';
/** A valid VIN the order registry does not know. */
const UNKNOWN_VIN = 'WMW31DH0302S99999';

describeEngines('module look-ups and the audit log', (storage) => {
  let cloud: CloudApp;
  let world: WorkshopWorld;
  let now: Date;
  const clock = () => now;
  const later = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };
  const as = (id: PersonId, atStation = false) =>
    signIn(cloud, world, id, { now: clock, atStation });

  beforeEach(async () => {
    now = TEST_NOW;
    world = await seedWorkshopWorld(storage(), now);
    cloud = await buildApp(testConfig(), { storage: storage(), logger: false, now: clock });
  });
  afterEach(async () => {
    await cloud.app.close();
  });

  const auditRows = (action?: string) => {
    let query = storage().db.selectFrom('audit_log').selectAll();
    if (action) query = query.where('action', '=', action);
    return query.orderBy('at').execute();
  };

  /** What the module link stores, as it would (this test only reads it). */
  async function linkHeard(serial: string) {
    const { db } = storage();
    await db
      .insertInto('module_link_status')
      .values({
        serial,
        presence: 'online',
        connection_id: null,
        firmware_version: '1.2.0',
        presence_changed_at_ms: Date.parse('2026-06-01T11:00:00.000Z'),
        last_contact_ms: Date.parse('2026-06-01T11:59:30.250Z'),
      })
      .execute();
    await db
      .insertInto('module_fault_codes')
      .values([
        {
          serial,
          code: 'B1C00',
          active: 0,
          occurrences: 3,
          first_reported_ms: Date.parse('2026-05-01T08:00:00.000Z'),
          last_reported_ms: Date.parse('2026-05-20T08:00:00.000Z'),
        },
        {
          serial,
          code: 'U0100',
          active: 1,
          occurrences: 1,
          first_reported_ms: Date.parse('2026-05-30T10:00:00.000Z'),
          last_reported_ms: Date.parse('2026-05-30T10:00:00.000Z'),
        },
      ])
      .execute();
  }

  async function sendReport(failing = false) {
    const mechanic = await as('MEC-1');
    const sample = sampleInstallationReportJson();
    const sent = {
      ...sample,
      reportId: randomUUID(),
      moduleSerial: SERIAL,
      vin: ORDER_5GE.vin,
      mechanic: { id: 'MEC-1', name: 'Person MEC-1' },
      dealer: { id: 'DLR-1', name: 'MINI One', stationId: world.stations['DLR-1'].id },
      selfTests: failing
        ? sample.selfTests.filter((t) => t.testId !== 'vehicle-bus')
        : sample.selfTests,
    };
    const response = await mechanic.request(
      'POST',
      `/v1/modules/${SERIAL}/installation-reports`,
      sent,
    );
    expect(response.statusCode, response.body).toBe(201);
    return sent;
  }

  it('shows presence, last contact, firmware, fault codes and the latest report, by serial and by VIN', async () => {
    const registered = await insertModuleRegistration(cloud, {
      serial: SERIAL,
      vin: ORDER_5GE.vin,
      firmwareVersion: '1.1.0',
      stationId: world.stations['DLR-1'].id,
    });
    await linkHeard(SERIAL);
    await sendReport(true);
    later(60);
    const accepted = await sendReport();
    later(60);

    const mechanic = await as('MEC-1');
    const bySerial = await mechanic.request('GET', `/v1/modules/${SERIAL.toLowerCase()}`);
    expect(bySerial.statusCode, bySerial.body).toBe(200);
    const { reportId: _id, ...acceptedReport } = accepted;
    expect(bySerial.json()).toEqual({
      registration: {
        id: registered.id,
        moduleSerial: SERIAL,
        vin: ORDER_5GE.vin,
        hardwareRevision: 'HW-B',
        firmwareVersion: '1.1.0',
        identityPublicKey: registered.identity_public_key,
        status: 'active',
        dealerId: 'DLR-1',
        mechanicId: 'MEC-1',
        stationId: world.stations['DLR-1'].id,
        registeredAt: TEST_NOW.toISOString(),
        readyToShareAt: '2026-06-01T12:01:00.000Z',
        decommissionedAt: null,
      },
      readyToShare: true,
      presence: { status: 'online', changedAt: '2026-06-01T11:00:00.000Z' },
      lastContactAt: '2026-06-01T11:59:30.250Z',
      firmwareVersion: '1.2.0',
      faultCodes: [
        {
          code: 'U0100',
          active: true,
          occurrences: 1,
          firstReportedAt: '2026-05-30T10:00:00.000Z',
          lastReportedAt: '2026-05-30T10:00:00.000Z',
        },
        {
          code: 'B1C00',
          active: false,
          occurrences: 3,
          firstReportedAt: '2026-05-01T08:00:00.000Z',
          lastReportedAt: '2026-05-20T08:00:00.000Z',
        },
      ],
      installationReport: {
        reportId: accepted.reportId,
        verdict: 'accepted',
        reasons: [],
        receivedAt: '2026-06-01T12:01:00.000Z',
        report: acceptedReport,
      },
    });

    const byVin = await mechanic.request(
      'GET',
      `/v1/vehicles/${ORDER_5GE.vin.toLowerCase()}/module`,
    );
    expect(byVin.statusCode, byVin.body).toBe(200);
    expect(byVin.json()).toEqual(bySerial.json());
  });

  it('shows the registered firmware and no presence before the module has connected', async () => {
    await insertModuleRegistration(cloud, { serial: SERIAL, vin: ORDER_5GE.vin });
    const agent = await as('AGT-1');
    const response = await agent.request('GET', `/v1/modules/${SERIAL}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      readyToShare: false,
      presence: null,
      lastContactAt: null,
      firmwareVersion: '1.1.0',
      faultCodes: [],
      installationReport: null,
    });
  });

  it('writes exactly one audit row per look-up, with who, where and what', async () => {
    const registered = await insertModuleRegistration(cloud, {
      serial: SERIAL,
      vin: ORDER_5GE.vin,
    });
    const mechanic = await as('MEC-2'); // another dealer: any dealer may service any car
    const agent = await as('AGT-1');
    const admin = await as('ADM-1');

    expect((await mechanic.request('GET', `/v1/modules/${SERIAL}`)).statusCode).toBe(200);
    later(1);
    expect((await agent.request('GET', `/v1/vehicles/${ORDER_5GE.vin}/module`)).statusCode).toBe(
      200,
    );
    later(1);
    expect((await admin.request('GET', `/v1/modules/${SERIAL}`)).statusCode).toBe(200);

    const rows = await auditRows();
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({
      action: 'lookup.module',
      account_id: 'MEC-2',
      role: 'mechanic',
      dealer_id: 'DLR-2',
      station_id: world.stations['DLR-2'].id,
      serial: SERIAL,
      vin: ORDER_5GE.vin,
      at: TEST_NOW.toISOString(),
    });
    expect(JSON.parse(rows[0]!.details)).toEqual({ found: true, registrationId: registered.id });
    expect(rows[1]).toMatchObject({
      action: 'lookup.vehicle',
      account_id: 'AGT-1',
      role: 'agent',
      dealer_id: null,
      station_id: null,
      serial: SERIAL,
      vin: ORDER_5GE.vin,
    });
    expect(rows[2]).toMatchObject({
      action: 'lookup.module',
      account_id: 'ADM-1',
      role: 'dealer-admin',
      dealer_id: 'DLR-1',
      station_id: null,
    });
  });

  it('answers 404 for unknown modules and cars, and audits those reads too', async () => {
    const mechanic = await as('MEC-1');

    const unknownSerial = await mechanic.request('GET', `/v1/modules/${NEVER_SEEN}`);
    expect(unknownSerial.statusCode).toBe(404);
    expect(unknownSerial.json().error.message).toContain(`No module ${NEVER_SEEN} is registered`);
    later(1);
    const noModule = await mechanic.request('GET', `/v1/vehicles/${ORDER_NO_5GE.vin}/module`);
    expect(noModule.statusCode).toBe(404);
    expect(noModule.json().error.message).toMatch(/has no sharing module registered/);
    later(1);
    const unknownVin = await mechanic.request('GET', `/v1/vehicles/${UNKNOWN_VIN}/module`);
    expect(unknownVin.statusCode).toBe(404);
    expect(unknownVin.json().error.message).toMatch(/No vehicle order is registered/);

    const rows = await auditRows();
    expect(rows.map((r) => [r.action, r.serial, r.vin, JSON.parse(r.details)])).toEqual([
      ['lookup.module', NEVER_SEEN, null, { found: false }],
      ['lookup.vehicle', null, ORDER_NO_5GE.vin, { found: false, reason: 'no-module' }],
      ['lookup.vehicle', null, UNKNOWN_VIN, { found: false, reason: 'unknown-vehicle' }],
    ]);
    expect(rows.every((r) => r.account_id === 'MEC-1' && r.station_id !== null)).toBe(true);
  });

  it('refuses bad serials and VINs with 400 and audits nothing', async () => {
    const mechanic = await as('MEC-1');
    const badVin = await mechanic.request('GET', '/v1/vehicles/WMW31DH0302S7164/module');
    expect(badVin.statusCode).toBe(400);
    expect(badVin.json().error.code).toBe('invalid-vin');
    const badSerial = await mechanic.request('GET', '/v1/modules/MSM-24-001234-4');
    expect(badSerial.statusCode).toBe(400);
    expect(badSerial.json().error.message).toMatch(/mistyped/);
    const notASerial = await mechanic.request('GET', '/v1/modules/hello');
    expect(notASerial.statusCode).toBe(400);
    expect(await auditRows()).toEqual([]);
  });

  it('shows the car’s current module after a replacement, and the old one as history', async () => {
    const old = await insertModuleRegistration(cloud, {
      serial: SERIAL,
      vin: ORDER_5GE.vin,
      readyToShare: true,
    });
    later(3600);
    await storage()
      .db.updateTable('module_registrations')
      .set({ status: 'decommissioned', decommissioned_at: now.toISOString() })
      .where('id', '=', old.id)
      .execute();
    const current = await insertModuleRegistration(cloud, {
      serial: REPLACEMENT,
      vin: ORDER_5GE.vin,
    });

    const agent = await as('AGT-1');
    const byVin = await agent.request('GET', `/v1/vehicles/${ORDER_5GE.vin}/module`);
    expect(byVin.json().registration).toMatchObject({ id: current.id, status: 'active' });
    const byOldSerial = await agent.request('GET', `/v1/modules/${SERIAL}`);
    expect(byOldSerial.statusCode).toBe(200);
    expect(byOldSerial.json()).toMatchObject({
      registration: { id: old.id, status: 'decommissioned', decommissionedAt: now.toISOString() },
      readyToShare: false,
    });
  });

  it('is refused to customers', async () => {
    await insertModuleRegistration(cloud, { serial: SERIAL, vin: ORDER_5GE.vin });
    const customer = await as('CUS-1');
    for (const path of [
      `/v1/modules/${SERIAL}`,
      `/v1/vehicles/${ORDER_5GE.vin}/module`,
      '/v1/audit-log',
    ]) {
      expect((await customer.request('GET', path)).statusCode).toBe(403);
    }
    expect(await auditRows()).toEqual([]);
  });

  it('gives agents the audit log newest first, filtered, and audits that read', async () => {
    await insertModuleRegistration(cloud, { serial: SERIAL, vin: ORDER_5GE.vin });
    const mechanic = await as('MEC-1');
    await mechanic.request('GET', `/v1/modules/${SERIAL}`);
    later(1);
    await mechanic.request('GET', `/v1/vehicles/${ORDER_NO_5GE.vin}/module`);
    later(1);
    await mechanic.request('GET', `/v1/vehicles/${ORDER_5GE.vin}/module`);
    later(1);

    const agent = await as('AGT-1');
    const bySerial = await agent.request('GET', `/v1/audit-log?serial=${SERIAL.toLowerCase()}`);
    expect(bySerial.statusCode, bySerial.body).toBe(200);
    expect(bySerial.json()).toEqual([
      {
        at: '2026-06-01T12:00:02.000Z',
        action: 'lookup.vehicle',
        accountId: 'MEC-1',
        role: 'mechanic',
        dealerId: 'DLR-1',
        stationId: world.stations['DLR-1'].id,
        moduleSerial: SERIAL,
        vin: ORDER_5GE.vin,
        details: expect.objectContaining({ found: true }),
      },
      expect.objectContaining({ at: '2026-06-01T12:00:00.000Z', action: 'lookup.module' }),
    ]);
    later(1);
    const byVin = await agent.request('GET', `/v1/audit-log?vin=${ORDER_NO_5GE.vin}`);
    expect(byVin.json()).toEqual([
      expect.objectContaining({
        action: 'lookup.vehicle',
        details: { found: false, reason: 'no-module' },
      }),
    ]);
    later(1);
    const newest = await agent.request('GET', '/v1/audit-log?limit=2');
    expect(newest.json().map((r: { action: string }) => r.action)).toEqual([
      'lookup.audit-log',
      'lookup.audit-log',
    ]);

    const reads = await auditRows('lookup.audit-log');
    expect(reads).toHaveLength(3);
    expect(reads[0]).toMatchObject({
      account_id: 'AGT-1',
      role: 'agent',
      serial: SERIAL,
      vin: null,
    });
    expect(JSON.parse(reads[0]!.details)).toEqual({ limit: 50, rows: 2 });
    expect(reads[2]).toMatchObject({ serial: null, vin: null });
  });

  it('refuses bad audit-log queries (and other roles) without reading or auditing', async () => {
    const agent = await as('AGT-1');
    for (const query of [
      'limit=0',
      'limit=201',
      'limit=many',
      'vin=NOTAVIN',
      'serial=MSM-24-001234-4',
      'who=me',
    ]) {
      const response = await agent.request('GET', `/v1/audit-log?${query}`);
      expect(response.statusCode, `${query}: ${response.body}`).toBe(400);
    }
    for (const id of ['MEC-1', 'ADM-1'] as const) {
      expect((await (await as(id)).request('GET', '/v1/audit-log')).statusCode).toBe(403);
    }
    expect(await auditRows()).toEqual([]);
  });
});
