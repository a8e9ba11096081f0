/**
 * Installation reports: who may send one, the verdict, and storing it. The report's format and
 * the acceptance rule are shared-protocol's (diagnostics); this file decides what the cloud
 * passes that rule and what a verdict changes.
 *
 * A report may arrive long after the tests (the workshop queues it offline) and be sent by
 * whoever is signed in at that station then. So the cloud requires the session's dealer and
 * station to be the ones the report names, and the mechanic it names to be staff of that dealer;
 * the rule then judges the report as if that mechanic were signed in.
 */
import type { Kysely } from 'kysely';
import type {
  InstallationReportAnswer,
  InstallationReportSubmission,
} from '@mini-sharing/shared-protocol/api';
import {
  acceptInstallationReport,
  parseInstallationReport,
  type InstallationReport,
  type ReportRejection,
} from '@mini-sharing/shared-protocol/diagnostics';
import { audit } from '../audit/audit-log.js';
import type { Principal } from '../http/auth.js';
import { ApiProblem } from '../http/errors.js';
import type { Database, InstallationReportRow, ModuleRegistrationRow } from '../storage/schema.js';
import { isUniqueViolation } from '../storage/storage.js';
import type { StationPrincipal } from '../stations/station-session.js';

/** A mechanic or dealer admin signed in at a workshop station. */
export interface StationStaff {
  principal: Principal;
  accountId: string;
  dealerId: string;
  stationId: string;
}

/** The caller of the route (behind requireStationSession). */
export const stationStaff = (principal: StationPrincipal): StationStaff => ({
  principal,
  accountId: principal.accountId,
  dealerId: principal.dealerId,
  stationId: principal.stationId,
});

/** The parsed report, or 400 with every problem the report rule found. */
export function readReport(body: InstallationReportSubmission): InstallationReport {
  const { reportId: _reportId, ...report } = body;
  const parsed = parseInstallationReport(report);
  if (parsed.ok) return parsed.report;
  const details = parsed.errors.map((error) => ({
    path: error.path === '' ? 'body' : `body.${error.path}`,
    message: error.message,
  }));
  const first = details[0]!;
  const more = details.length > 1 ? ` (and ${details.length - 1} more, see details)` : '';
  throw new ApiProblem(
    400,
    'invalid-request',
    `The installation report is not valid: ${first.path}: ${first.message}${more}. The workshop ` +
      'app must make the report again.',
    details,
  );
}

/** 403 unless the report was made at the caller's station of the caller's dealer. */
export function checkReportOrigin(report: InstallationReport, staff: StationStaff): void {
  if (report.dealer.id === staff.dealerId && report.dealer.stationId === staff.stationId) return;
  throw new ApiProblem(
    403,
    'forbidden',
    `This report was made at station ${report.dealer.stationId} of dealer ${report.dealer.id}, ` +
      `but you are signed in at station ${staff.stationId} of dealer ${staff.dealerId}. Send it ` +
      "from the station where the tests ran, signed in as staff of that station's dealer.",
    [
      { path: 'body.dealer.id', message: `must be ${staff.dealerId} (your dealer)` },
      { path: 'body.dealer.stationId', message: `must be ${staff.stationId} (this station)` },
    ],
  );
}

/** The module's registrations, newest first; 404 with what to do when it has none. */
export async function registrationsOf(
  db: Kysely<Database>,
  serial: string,
): Promise<[ModuleRegistrationRow, ...ModuleRegistrationRow[]]> {
  const rows = await db
    .selectFrom('module_registrations')
    .selectAll()
    .where('serial', '=', serial)
    .orderBy('registered_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  const [latest, ...older] = rows;
  if (latest) return [latest, ...older];
  throw new ApiProblem(
    404,
    'not-found',
    `No module ${serial} is registered. Register the module (the provisioning step) first, then ` +
      'send the report; check the serial on the label if you did.',
  );
}

/** The active one of a module's registrations; 409 for a decommissioned module. */
export function activeRegistration(
  rows: readonly [ModuleRegistrationRow, ...ModuleRegistrationRow[]],
): ModuleRegistrationRow {
  const active = rows.find((row) => row.status === 'active');
  if (active) return active;
  const latest = rows[0];
  throw new ApiProblem(
    409,
    'conflict',
    `Module ${latest.serial} was decommissioned` +
      `${latest.decommissioned_at ? ` on ${latest.decommissioned_at}` : ''} and is no longer ` +
      `registered to ${latest.vin}, so it cannot get an installation report. Check the serial on ` +
      'the label of the module fitted now.',
  );
}

/** Whether `accountId` is a mechanic or dealer admin of `dealerId`. */
async function isDealerStaff(db: Kysely<Database>, accountId: string, dealerId: string) {
  const row = await db
    .selectFrom('accounts')
    .select('id')
    .where('id', '=', accountId)
    .where('dealer_id', '=', dealerId)
    .where('role', 'in', ['mechanic', 'dealer-admin'])
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The rule's verdict, with the mechanic expectation set as above: the named mechanic when they
 * are staff of the caller's dealer, else the caller (so the rule says "different mechanic").
 */
export async function judgeReport(
  db: Kysely<Database>,
  report: InstallationReport,
  registration: ModuleRegistrationRow,
  staff: StationStaff,
): Promise<ReportRejection[]> {
  const namedIsStaff = await isDealerStaff(db, report.mechanic.id, staff.dealerId);
  const acceptance = acceptInstallationReport(report, {
    expectedModuleSerial: registration.serial,
    expectedVin: registration.vin,
    signedInMechanicId: namedIsStaff ? report.mechanic.id : staff.accountId,
  });
  if (acceptance.accepted) return [];
  return acceptance.reasons.map((reason) =>
    reason.reason === 'different-mechanic'
      ? {
          ...reason,
          message:
            `The report names mechanic ${report.mechanic.id}, who is not a mechanic or dealer ` +
            `admin of ${staff.dealerId}. Only tests run by your dealer's staff count: run the ` +
            'tests again signed in as yourself.',
        }
      : reason,
  );
}

const reasonsView = (rejection: string | null) =>
  rejection === null
    ? []
    : (JSON.parse(rejection) as ReportRejection[]).map(({ reason, message }) => ({
        reason,
        message,
      }));

function answerOf(row: InstallationReportRow, readyToShareAt: string | null) {
  return {
    reportId: row.id,
    moduleSerial: row.serial,
    vin: row.vin,
    verdict: row.verdict,
    reasons: reasonsView(row.rejection),
    readyToShareAt,
    receivedAt: row.received_at,
  } satisfies InstallationReportAnswer;
}

/** A stored report's verdict as the look-up shows it. */
export const storedReportView = (row: InstallationReportRow) => ({
  reportId: row.id,
  verdict: row.verdict,
  reasons: reasonsView(row.rejection),
  receivedAt: row.received_at,
  report: JSON.parse(row.report) as InstallationReport,
});

/**
 * A report id seen before: the stored answer when it is the same report for the same module
 * (a queued report sent again), else 409.
 */
async function repeatedReport(
  db: Kysely<Database>,
  reportId: string,
  serial: string,
  reportJson: string,
): Promise<InstallationReportAnswer | undefined> {
  const row = await db
    .selectFrom('installation_reports')
    .selectAll()
    .where('id', '=', reportId)
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.serial !== serial || row.report !== reportJson) {
    throw new ApiProblem(
      409,
      'conflict',
      `Report id ${reportId} was already used for another report (received ${row.received_at}` +
        `${row.serial === serial ? '' : ` for module ${row.serial}`}). Every test run needs a new ` +
        'report id; the workshop app makes one when the tests finish.',
    );
  }
  const registration = await db
    .selectFrom('module_registrations')
    .select('ready_to_share_at')
    .where('id', '=', row.registration_id)
    .executeTakeFirstOrThrow();
  return answerOf(row, registration.ready_to_share_at);
}

export interface SubmittedReport {
  /** 201 for a new report, 200 for one stored before. */
  created: boolean;
  answer: InstallationReportAnswer;
}

/**
 * Takes an installation report for `serial` (canonical) from `staff`: judges it, stores it with
 * its verdict and the audit row, and marks the module ready to share when it is accepted, all in
 * one transaction. Throws an ApiProblem for a report that is refused (nothing stored).
 */
export async function submitReport(
  db: Kysely<Database>,
  input: {
    serial: string;
    body: InstallationReportSubmission;
    staff: StationStaff;
    now: Date;
  },
): Promise<SubmittedReport> {
  const { serial, staff, now } = input;
  const reportId = input.body.reportId.toLowerCase();
  const report = readReport(input.body);
  const registrations = await registrationsOf(db, serial);
  checkReportOrigin(report, staff);
  const reportJson = JSON.stringify(report);

  // Before the module's state: a queued report sent again gets its verdict whatever happened since.
  const repeat = await repeatedReport(db, reportId, serial, reportJson);
  if (repeat) return { created: false, answer: repeat };

  const registration = activeRegistration(registrations);
  const reasons = await judgeReport(db, report, registration, staff);
  const verdict = reasons.length === 0 ? 'accepted' : 'rejected';
  const at = now.toISOString();
  const row: InstallationReportRow = {
    id: reportId,
    registration_id: registration.id,
    serial: registration.serial,
    vin: registration.vin,
    verdict,
    rejection: verdict === 'accepted' ? null : JSON.stringify(reasons),
    report: reportJson,
    account_id: staff.accountId,
    dealer_id: staff.dealerId,
    station_id: staff.stationId,
    started_at: report.startedAt,
    finished_at: report.finishedAt,
    received_at: at,
  };

  try {
    const readyToShareAt = await db.transaction().execute(async (trx) => {
      await trx.insertInto('installation_reports').values(row).execute();
      if (verdict === 'accepted') {
        const updated = await trx
          .updateTable('module_registrations')
          .set((eb) => ({
            ready_to_share_at: eb.fn.coalesce('ready_to_share_at', eb.val(at)),
            updated_at: at,
          }))
          .where('id', '=', registration.id)
          .where('status', '=', 'active')
          .executeTakeFirst();
        if (updated.numUpdatedRows === 0n) {
          throw new ApiProblem(
            409,
            'conflict',
            `Module ${serial} was decommissioned while its report was sent; nothing was stored. ` +
              'Check the serial on the label of the module fitted now.',
          );
        }
      }
      await audit(
        trx,
        {
          action: 'module.installation-report',
          principal: staff.principal,
          serial: registration.serial,
          vin: registration.vin,
          details: {
            reportId,
            registrationId: registration.id,
            verdict,
            reasons: reasons.map((r) => r.reason),
            mechanicId: report.mechanic.id,
          },
        },
        now,
      );
      const after = await trx
        .selectFrom('module_registrations')
        .select('ready_to_share_at')
        .where('id', '=', registration.id)
        .executeTakeFirstOrThrow();
      return after.ready_to_share_at;
    });
    return { created: true, answer: answerOf(row, readyToShareAt) };
  } catch (error) {
    // The same report id sent twice at once: the second answers like a repeat.
    if (isUniqueViolation(error)) {
      const repeated = await repeatedReport(db, reportId, serial, reportJson);
      if (repeated) return { created: false, answer: repeated };
    }
    throw error;
  }
}
