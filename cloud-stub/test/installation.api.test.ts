/**
 * Installation reports on both engines, with real station sign-ins: an accepted report makes the
 * module ready to share; a rejected one lists every reason and changes nothing else; a queued
 * report may be sent later by other staff of the same dealer at the same station, never from
 * elsewhere; a report id is stored once; bad reports are refused and store nothing.
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
  type ApiClient,
  type PersonId,
  type WorkshopWorld,
} from './workshop-fixture.js';

const SERIAL = 'MSM-24-001234-3';
const OTHER_SERIAL = 'MSM-24-001235-1';
const UNKNOWN_SERIAL = 'MSM-24-999001-2';
const url = (serial = SERIAL) => `/v1/modules/${serial}/installation-reports`;

interface SelfTest {
  testId: string;
  outcome: string;
  measuredValue?: number;
  detail: string;
  durationMs?: number;
}
type Report = Omit<ReturnType<typeof sampleInstallationReportJson>, 'selfTests'> & {
  reportId: string;
  selfTests: SelfTest[];
};

describeEngines('installation reports', (storage) => {
  let cloud: CloudApp;
  let world: WorkshopWorld;
  let now: Date;
  const clock = () => now;

  beforeEach(async () => {
    now = TEST_NOW;
    world = await seedWorkshopWorld(storage(), now);
    cloud = await buildApp(testConfig(), { storage: storage(), logger: false, now: clock });
    await insertModuleRegistration(cloud, { serial: SERIAL, vin: ORDER_5GE.vin });
  });
  afterEach(async () => {
    await cloud.app.close();
  });

  const as = (id: PersonId, atStation = false) =>
    signIn(cloud, world, id, { now: clock, atStation });
  const later = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };

  /** The sample report of the diagnostics vectors, made at DLR-1's station by MEC-1. */
  function report(change: (r: Report) => Report = (r) => r): Report {
    const stationId = world.stations['DLR-1'].id;
    return change({
      ...sampleInstallationReportJson(),
      reportId: randomUUID(),
      moduleSerial: SERIAL,
      vin: ORDER_5GE.vin,
      mechanic: { id: 'MEC-1', name: 'Person MEC-1' },
      dealer: { id: 'DLR-1', name: 'MINI One', stationId },
    });
  }
  const withTest =
    (testId: string, change: Partial<SelfTest> | null) =>
    (r: Report): Report => ({
      ...r,
      selfTests: r.selfTests.flatMap((t) =>
        t.testId !== testId ? [t] : change === null ? [] : [{ ...t, ...change } as SelfTest],
      ),
    });

  const registration = () =>
    storage()
      .db.selectFrom('module_registrations')
      .selectAll()
      .where('serial', '=', SERIAL)
      .executeTakeFirstOrThrow();
  const storedReports = () =>
    storage().db.selectFrom('installation_reports').selectAll().orderBy('received_at').execute();
  const auditRows = () =>
    storage()
      .db.selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'module.installation-report')
      .orderBy('at')
      .execute();

  async function expectNothingStored() {
    expect(await storedReports()).toEqual([]);
    expect(await auditRows()).toEqual([]);
    const row = await registration();
    expect(row.ready_to_share_at).toBeNull();
    expect(row.updated_at).toBe(TEST_NOW.toISOString());
  }

  it('accepts a complete report: the module becomes ready to share, and the look-up shows it', async () => {
    const mechanic = await as('MEC-1');
    const sent = report();
    later(5);
    const response = await mechanic.request('POST', url(), sent);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toEqual({
      reportId: sent.reportId,
      moduleSerial: SERIAL,
      vin: ORDER_5GE.vin,
      verdict: 'accepted',
      reasons: [],
      readyToShareAt: now.toISOString(),
      receivedAt: now.toISOString(),
    });
    expect((await registration()).ready_to_share_at).toBe(now.toISOString());

    const [stored, ...more] = await storedReports();
    expect(more).toEqual([]);
    expect(stored).toMatchObject({
      id: sent.reportId,
      serial: SERIAL,
      vin: ORDER_5GE.vin,
      verdict: 'accepted',
      rejection: null,
      account_id: 'MEC-1',
      dealer_id: 'DLR-1',
      station_id: world.stations['DLR-1'].id,
      started_at: sent.startedAt,
      finished_at: sent.finishedAt,
    });
    const { reportId: _id, ...body } = sent;
    expect(JSON.parse(stored!.report)).toEqual(body);

    const audits = await auditRows();
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      account_id: 'MEC-1',
      role: 'mechanic',
      dealer_id: 'DLR-1',
      station_id: world.stations['DLR-1'].id,
      serial: SERIAL,
      vin: ORDER_5GE.vin,
    });
    expect(JSON.parse(audits[0]!.details)).toMatchObject({ verdict: 'accepted', reasons: [] });

    const lookup = await mechanic.request('GET', `/v1/modules/${SERIAL}`);
    expect(lookup.statusCode, lookup.body).toBe(200);
    expect(lookup.json()).toMatchObject({
      readyToShare: true,
      registration: { moduleSerial: SERIAL, readyToShareAt: now.toISOString() },
      installationReport: {
        reportId: sent.reportId,
        verdict: 'accepted',
        reasons: [],
        report: body,
      },
    });
  });

  it('rejects a report with failed, out-of-limit and missing tests, listing every reason', async () => {
    const mechanic = await as('MEC-1');
    const sent = report((r) =>
      withTest(
        'secure-storage',
        null,
      )(
        withTest('supply-voltage', { measuredValue: 11.2 })(
          withTest('central-lock-actuation', { outcome: 'failed', detail: 'no lock feedback' })(r),
        ),
      ),
    );
    const response = await mechanic.request('POST', url(), sent);
    expect(response.statusCode, response.body).toBe(201);
    const answer = response.json();
    expect(answer).toMatchObject({ verdict: 'rejected', readyToShareAt: null });
    expect(answer.reasons.map((r: { reason: string }) => r.reason)).toEqual([
      'mandatory-test-missing',
      'mandatory-test-not-passed',
      'measurement-out-of-limits',
    ]);
    const messages = answer.reasons.map((r: { message: string }) => r.message).join(' ');
    expect(messages).toMatch(/Secure key storage/);
    expect(messages).toMatch(/Central locking \(failed\)/);
    expect(messages).toMatch(/11\.2 V/);

    const row = await registration();
    expect(row.ready_to_share_at).toBeNull();
    expect(row.updated_at).toBe(TEST_NOW.toISOString());
    const [stored] = await storedReports();
    expect(stored?.verdict).toBe('rejected');
    expect(JSON.parse(stored!.rejection!)).toHaveLength(3);
    expect(await auditRows()).toHaveLength(1);

    const lookup = await mechanic.request('GET', `/v1/modules/${SERIAL}`);
    expect(lookup.json()).toMatchObject({
      readyToShare: false,
      installationReport: { reportId: sent.reportId, verdict: 'rejected', reasons: answer.reasons },
    });
  });

  it('makes the module ready with a later accepted report, and keeps the first acceptance time', async () => {
    const mechanic = await as('MEC-1');
    const failed = report(withTest('vehicle-bus', { outcome: 'failed', detail: 'no CAN' }));
    expect((await mechanic.request('POST', url(), failed)).json().verdict).toBe('rejected');
    later(600);
    const accepted = await mechanic.request('POST', url(), report());
    expect(accepted.statusCode).toBe(201);
    const firstReady = now.toISOString();
    expect(accepted.json()).toMatchObject({ verdict: 'accepted', readyToShareAt: firstReady });
    later(600);
    const again = await mechanic.request('POST', url(), report());
    expect(again.json()).toMatchObject({ verdict: 'accepted', readyToShareAt: firstReady });
    expect((await registration()).ready_to_share_at).toBe(firstReady);
    // A rejected report after an acceptance does not take readiness away.
    later(60);
    const rejectedLater = await mechanic.request(
      'POST',
      url(),
      report(withTest('vehicle-bus', null)),
    );
    expect(rejectedLater.json()).toMatchObject({ verdict: 'rejected', readyToShareAt: firstReady });
    expect(await storedReports()).toHaveLength(4);
    const lookup = await mechanic.request('GET', `/v1/modules/${SERIAL}`);
    expect(lookup.json()).toMatchObject({
      readyToShare: true,
      installationReport: { verdict: 'rejected' },
    });
  });

  it('accepts a queued report sent later by other staff of the dealer at the same station', async () => {
    const sent = report(); // made by MEC-1, queued while offline
    later(3600);
    const admin = await as('ADM-1', true);
    const response = await admin.request('POST', url(), sent);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().verdict).toBe('accepted');
    const [stored] = await storedReports();
    expect(stored).toMatchObject({ account_id: 'ADM-1', verdict: 'accepted' });
    expect(JSON.parse(stored!.report).mechanic.id).toBe('MEC-1');
    expect((await auditRows())[0]).toMatchObject({ account_id: 'ADM-1', role: 'dealer-admin' });

    // The other way round too: a report of the dealer admin, sent by the mechanic.
    const mechanic = await as('MEC-1');
    const byAdmin = report((r) => ({ ...r, mechanic: { id: 'ADM-1', name: 'Person ADM-1' } }));
    expect((await mechanic.request('POST', url(), byAdmin)).json().verdict).toBe('accepted');
  });

  it('rejects a report naming a mechanic who is not staff of the dealer', async () => {
    const mechanic = await as('MEC-1');
    for (const [id, n] of [
      ['MEC-2', 1],
      ['NOBODY-7', 2],
    ] as const) {
      const response = await mechanic.request(
        'POST',
        url(),
        report((r) => ({ ...r, mechanic: { id, name: 'Someone' } })),
      );
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json()).toMatchObject({
        verdict: 'rejected',
        readyToShareAt: null,
        reasons: [{ reason: 'different-mechanic' }],
      });
      expect(response.json().reasons[0].message).toContain(`${id}, who is not a mechanic`);
      expect(await storedReports()).toHaveLength(n);
    }
    expect((await registration()).ready_to_share_at).toBeNull();
  });

  it('refuses a report made at another station or dealer, storing nothing', async () => {
    // A mechanic of another dealer sends DLR-1's report from their own station.
    const other = await as('MEC-2');
    const refused = await other.request('POST', url(), report());
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.message).toMatch(
      /station .* of dealer DLR-1.*signed in at station/,
    );
    // Naming their own dealer but DLR-1's station.
    const mixed = await other.request(
      'POST',
      url(),
      report((r) => ({
        ...r,
        mechanic: { id: 'MEC-2', name: 'Person MEC-2' },
        dealer: { ...r.dealer, id: 'DLR-2' },
      })),
    );
    expect(mixed.statusCode).toBe(403);
    // The right dealer, another station.
    const mechanic = await as('MEC-1');
    const elsewhere = await mechanic.request(
      'POST',
      url(),
      report((r) => ({ ...r, dealer: { ...r.dealer, stationId: world.stations['DLR-2'].id } })),
    );
    expect(elsewhere.statusCode).toBe(403);
    // A dealer admin not signed in at a station.
    const portal = await as('ADM-1');
    const noStation = await portal.request('POST', url(), report());
    expect(noStation.statusCode).toBe(403);
    expect(noStation.json().error.message).toMatch(
      /only at a workshop station: sign in at an approved workshop station/,
    );
    await expectNothingStored();
  });

  it('lets any dealer report on a module from its own station (any dealer may service any car)', async () => {
    const other = await as('MEC-2');
    const response = await other.request(
      'POST',
      url(),
      report((r) => ({
        ...r,
        mechanic: { id: 'MEC-2', name: 'Person MEC-2' },
        dealer: { id: 'DLR-2', name: 'MINI Two', stationId: world.stations['DLR-2'].id },
      })),
    );
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().verdict).toBe('accepted');
  });

  it('stores a report id once: the same report again answers the stored verdict, another 409', async () => {
    const mechanic = await as('MEC-1');
    const sent = report();
    const first = await mechanic.request('POST', url(), sent);
    expect(first.statusCode).toBe(201);
    later(120);
    // Sent again from the queue (another spelling of the serial changes nothing).
    const again = await mechanic.request('POST', url('msm240012343'), {
      ...sent,
      reportId: sent.reportId.toUpperCase(),
    });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual(first.json());

    const changed = await mechanic.request('POST', url(), {
      ...sent,
      finishedAt: '2024-05-02T09:40:00.000Z',
    });
    expect(changed.statusCode).toBe(409);
    expect(changed.json().error).toMatchObject({ code: 'conflict' });
    expect(changed.json().error.message).toMatch(/already used for another report/);

    await insertModuleRegistration(cloud, { serial: OTHER_SERIAL, vin: ORDER_NO_5GE.vin });
    const otherModule = await mechanic.request('POST', url(OTHER_SERIAL), sent);
    expect(otherModule.statusCode).toBe(409);

    expect(await storedReports()).toHaveLength(1);
    expect(await auditRows()).toHaveLength(1);
  });

  it('answers the same report sent twice at once with one stored report', async () => {
    const mechanic = await as('MEC-1');
    const sent = report();
    const answers = await Promise.all([
      mechanic.request('POST', url(), sent),
      mechanic.request('POST', url(), sent),
    ]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 201]);
    expect(await storedReports()).toHaveLength(1);
    expect(await auditRows()).toHaveLength(1);
  });

  it('checks the module and the car: unknown serial 404, another module or car rejected', async () => {
    const mechanic = await as('MEC-1');
    const unknown = await mechanic.request(
      'POST',
      url(UNKNOWN_SERIAL),
      report((r) => ({ ...r, moduleSerial: UNKNOWN_SERIAL })),
    );
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.message).toContain(`No module ${UNKNOWN_SERIAL} is registered`);

    const badSerial = await mechanic.request('POST', url('MSM-24-001234-4'), report());
    expect(badSerial.statusCode).toBe(400);
    expect(badSerial.json().error.message).toMatch(/mistyped/);
    await expectNothingStored();

    const otherModule = await mechanic.request(
      'POST',
      url(),
      report((r) => ({ ...r, moduleSerial: OTHER_SERIAL })),
    );
    expect(otherModule.statusCode).toBe(201);
    expect(otherModule.json().reasons).toMatchObject([
      { reason: 'other-module', message: expect.stringContaining(OTHER_SERIAL) },
    ]);
    const otherCar = await mechanic.request(
      'POST',
      url(),
      report((r) => ({ ...r, vin: ORDER_NO_5GE.vin })),
    );
    expect(otherCar.json()).toMatchObject({
      verdict: 'rejected',
      vin: ORDER_5GE.vin,
      reasons: [{ reason: 'other-vehicle' }],
    });
    expect((await registration()).ready_to_share_at).toBeNull();
  });

  it('refuses a new report for a decommissioned module, and still answers a repeat', async () => {
    const mechanic = await as('MEC-1');
    const sent = report();
    const first = await mechanic.request('POST', url(), sent);
    expect(first.statusCode).toBe(201);
    later(60);
    await storage()
      .db.updateTable('module_registrations')
      .set({ status: 'decommissioned', decommissioned_at: now.toISOString() })
      .where('serial', '=', SERIAL)
      .execute();
    const response = await mechanic.request('POST', url(), report());
    expect(response.statusCode).toBe(409);
    expect(response.json().error.message).toMatch(/was decommissioned on .* no longer registered/);
    const repeat = await mechanic.request('POST', url(), sent);
    expect(repeat.statusCode).toBe(200);
    expect(repeat.json()).toEqual(first.json());
    expect(await storedReports()).toHaveLength(1);
  });

  it('refuses malformed reports with a clear 4xx, storing nothing', async () => {
    const mechanic = await as('MEC-1');
    const cases: { name: string; body: unknown; status: number; code: string; path?: RegExp }[] = [
      {
        name: 'unknown field',
        body: { ...report(), signedBy: 'x' },
        status: 400,
        code: 'unknown-field',
      },
      {
        name: 'unknown nested field',
        body: report((r) => ({
          ...r,
          mechanic: { ...r.mechanic, badge: 7 } as Report['mechanic'],
        })),
        status: 400,
        code: 'unknown-field',
      },
      {
        name: 'a number as text',
        body: report(withTest('supply-voltage', { measuredValue: '13.6' as unknown as number })),
        status: 400,
        code: 'invalid-request',
        path: /selfTests\[0\]\.measuredValue/,
      },
      {
        name: 'an unknown outcome',
        body: report(withTest('ble-radio', { outcome: 'ok' })),
        status: 400,
        code: 'invalid-request',
      },
      {
        name: 'no report id',
        body: (({ reportId: _r, ...rest }) => rest)(report()),
        status: 400,
        code: 'invalid-request',
      },
      {
        name: 'a report id that is not a UUID',
        body: { ...report(), reportId: '42' },
        status: 400,
        code: 'invalid-request',
      },
      {
        name: 'a bad VIN',
        body: report((r) => ({ ...r, vin: 'WMW31DH0302S7164' })),
        status: 400,
        code: 'invalid-vin',
      },
      {
        name: 'too many self-tests',
        body: report((r) => ({
          ...r,
          selfTests: Array.from({ length: 65 }, (_, i) => ({
            testId: `extra-${i}`,
            outcome: 'skipped',
            detail: '',
          })),
        })),
        status: 400,
        code: 'invalid-request',
      },
      {
        name: 'finished before it started (the report rule)',
        body: report((r) => ({ ...r, finishedAt: '2024-05-02T09:00:00Z' })),
        status: 400,
        code: 'invalid-request',
        path: /body\.finishedAt/,
      },
      {
        name: 'a serial with a wrong check character (the report rule)',
        body: report((r) => ({ ...r, moduleSerial: 'MSM-24-001234-4' })),
        status: 400,
        code: 'invalid-request',
        path: /body\.moduleSerial/,
      },
      {
        name: 'a duplicated test (the report rule)',
        body: report((r) => ({ ...r, selfTests: [...r.selfTests, r.selfTests[0]!] })),
        status: 400,
        code: 'invalid-request',
      },
      {
        name: 'oversized',
        body: report((r) => ({
          ...r,
          selfTests: r.selfTests
            .map((t) => ({ ...t, detail: 'x'.repeat(1999) }))
            .concat(
              Array.from({ length: 40 }, (_, i) => ({
                testId: `extra-${i}`,
                outcome: 'skipped' as const,
                detail: 'y'.repeat(1999),
              })) as SelfTest[],
            ),
        })),
        status: 413,
        code: 'payload-too-large',
      },
      { name: 'not an object', body: [1, 2], status: 400, code: 'invalid-request' },
    ];
    for (const c of cases) {
      const response = await mechanic.request('POST', url(), c.body);
      expect(response.statusCode, `${c.name}: ${response.body}`).toBe(c.status);
      const { error } = response.json();
      expect(error.code, c.name).toBe(c.code);
      expect(error.message.length, c.name).toBeGreaterThan(10);
      if (c.path) {
        expect(error.details.map((d: { path: string }) => d.path).join(' '), c.name).toMatch(
          c.path,
        );
      }
    }
    await expectNothingStored();
  });

  it('is refused to customers and agents', async () => {
    for (const id of ['CUS-1', 'AGT-1'] as const) {
      const client: ApiClient = await as(id);
      const response = await client.request('POST', url(), report());
      expect(response.statusCode).toBe(403);
    }
    await expectNothingStored();
  });
});
