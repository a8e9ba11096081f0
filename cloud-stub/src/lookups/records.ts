/**
 * The module record a technician looks up: the registration (the active one, else the latest),
 * whether the car may be shared, what the module link last heard (presence, last contact,
 * firmware, fault codes) and the latest installation report. Read-only: the module link writes
 * the link tables, the registry and installation/ the others.
 */
import type { Kysely } from 'kysely';
import type { ModuleRecord } from '@mini-sharing/shared-protocol/api';
import { storedReportView } from '../installation/reports.js';
import { moduleRegistrationView } from '../modules/registry.js';
import type { Database, ModuleRegistrationRow } from '../storage/schema.js';

/** Milliseconds (a string from PostgreSQL's bigint) as ISO 8601 UTC. */
const isoOfMs = (ms: number | string): string => new Date(Number(ms)).toISOString();
const isoOfNullableMs = (ms: number | string | null): string | null =>
  ms === null ? null : isoOfMs(ms);

/** Everything a technician sees about the module of `registration`. */
export async function moduleRecord(
  db: Kysely<Database>,
  registration: ModuleRegistrationRow,
): Promise<ModuleRecord> {
  const [link, faults, report] = await Promise.all([
    db
      .selectFrom('module_link_status')
      .selectAll()
      .where('serial', '=', registration.serial)
      .executeTakeFirst(),
    db
      .selectFrom('module_fault_codes')
      .selectAll()
      .where('serial', '=', registration.serial)
      .orderBy('active', 'desc')
      .orderBy('last_reported_ms', 'desc')
      .orderBy('code')
      .execute(),
    db
      .selectFrom('installation_reports')
      .selectAll()
      .where('registration_id', '=', registration.id)
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst(),
  ]);
  return {
    registration: moduleRegistrationView(registration),
    readyToShare: registration.status === 'active' && registration.ready_to_share_at !== null,
    presence: !link?.presence
      ? null
      : { status: link.presence, changedAt: isoOfNullableMs(link.presence_changed_at_ms) },
    lastContactAt: isoOfNullableMs(link?.last_contact_ms ?? null),
    firmwareVersion: link?.firmware_version ?? registration.firmware_version,
    faultCodes: faults.map((fault) => ({
      code: fault.code,
      active: Number(fault.active) === 1,
      occurrences: Number(fault.occurrences),
      firstReportedAt: isoOfMs(fault.first_reported_ms),
      lastReportedAt: isoOfMs(fault.last_reported_ms),
    })),
    installationReport: report ? storedReportView(report) : null,
  };
}
