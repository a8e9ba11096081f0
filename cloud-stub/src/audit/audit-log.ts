/**
 * The audit log: who did what to which module or car, when, from which station. Every issuance
 * of a workshop test key or service authorization, every registration change and every look-up
 * of a module's or car's records writes one row, in the same transaction as the change where
 * there is one, so an action without its audit row cannot happen.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Principal } from '../http/auth.js';
import type { AuditLogRow, Database } from '../storage/schema.js';

export const AUDIT_ACTIONS = [
  'module.registration-nonce',
  'module.register',
  'module.register-repeat',
  'module.decommission',
  'module.installation-report',
  'grant.test-key',
  'grant.service-authorization',
  'lookup.module',
  'lookup.vehicle',
  'lookup.audit-log',
  'station.revoke',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  action: AuditAction;
  principal: Principal;
  serial?: string | undefined;
  vin?: string | undefined;
  /** What else matters (kept as JSON): operations, validity, reason, result counts. */
  details?: Record<string, unknown>;
}

/** Writes one audit row (inside the caller's transaction when given one). */
export async function audit(
  db: Kysely<Database> | Transaction<Database>,
  entry: AuditEntry,
  now: Date,
): Promise<AuditLogRow> {
  const { principal } = entry;
  const row: AuditLogRow = {
    id: randomUUID(),
    at: now.toISOString(),
    action: entry.action,
    account_id: principal.accountId,
    role: principal.role,
    dealer_id: 'dealerId' in principal ? principal.dealerId : null,
    station_id: principal.stationId ?? null,
    serial: entry.serial ?? null,
    vin: entry.vin ?? null,
    details: JSON.stringify(entry.details ?? {}),
  };
  await db.insertInto('audit_log').values(row).execute();
  return row;
}

/** Audit rows, newest first, filtered by module serial, VIN or account. */
export function auditEntries(
  db: Kysely<Database>,
  filter: { serial?: string; vin?: string; accountId?: string; limit: number },
): Promise<AuditLogRow[]> {
  let query = db.selectFrom('audit_log').selectAll();
  if (filter.serial !== undefined) query = query.where('serial', '=', filter.serial);
  if (filter.vin !== undefined) query = query.where('vin', '=', filter.vin);
  if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
  return query.orderBy('at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}
