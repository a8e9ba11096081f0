/**
 * Look-ups for mechanics, dealer admins and agents (contract: shared-protocol api/lookups.ts):
 * a module's record by serial or by VIN, and the audit log for support. Every read writes one
 * audit row, found or not, before it answers: a read whose audit row cannot be written fails.
 */
import {
  getModuleRecord,
  getVehicleModuleRecord,
  listAuditLog,
  type AuditLogEntry,
} from '@mini-sharing/shared-protocol/api';
import { audit, auditEntries } from '../audit/audit-log.js';
import type { CloudPlugin } from '../context.js';
import type { Principal } from '../http/auth.js';
import { ApiProblem } from '../http/errors.js';
import { routeOptions } from '../http/routes.js';
import type { AuditLogRow } from '../storage/schema.js';
import { findVehicleOrder } from '../vehicles/orders.js';
import { canonicalSerial } from '../http/module-serial.js';
import { normalVin } from '../http/vin.js';
import { shownRegistration } from '../modules/registry.js';
import { moduleRecord } from './records.js';

const auditEntryView = (row: AuditLogRow): AuditLogEntry => ({
  at: row.at,
  action: row.action,
  accountId: row.account_id,
  role: row.role,
  dealerId: row.dealer_id,
  stationId: row.station_id,
  moduleSerial: row.serial,
  vin: row.vin,
  details: JSON.parse(row.details) as Record<string, unknown>,
});

export const lookupsPlugin: CloudPlugin = async (app, { context }) => {
  const { db } = context.storage;
  const principalOf = (request: { principal: Principal | undefined }): Principal => {
    if (!request.principal) throw new Error('a look-up route was called without a principal');
    return request.principal;
  };

  app.route({
    ...routeOptions(getModuleRecord),
    handler: async (request) => {
      const serial = canonicalSerial(request.params.serial);
      const registration = await shownRegistration(db, { serial });
      const record = registration && (await moduleRecord(db, registration));
      await audit(
        db,
        {
          action: 'lookup.module',
          principal: principalOf(request),
          serial,
          vin: registration?.vin,
          details: record
            ? { found: true, registrationId: record.registration.id }
            : { found: false },
        },
        context.now(),
      );
      if (!record) {
        throw new ApiProblem(
          404,
          'not-found',
          `No module ${serial} is registered. Check the serial on the module's label; a module ` +
            'that was never provisioned has no record yet.',
        );
      }
      return record;
    },
  });

  app.route({
    ...routeOptions(getVehicleModuleRecord),
    handler: async (request) => {
      const vin = normalVin(request.params.vin);
      const registration = await shownRegistration(db, { vin });
      const record = registration && (await moduleRecord(db, registration));
      const orderKnown = record !== undefined || (await findVehicleOrder(db, vin)) !== undefined;
      await audit(
        db,
        {
          action: 'lookup.vehicle',
          principal: principalOf(request),
          serial: registration?.serial,
          vin,
          details: record
            ? { found: true, registrationId: record.registration.id }
            : { found: false, reason: orderKnown ? 'no-module' : 'unknown-vehicle' },
        },
        context.now(),
      );
      if (!record) {
        throw new ApiProblem(
          404,
          'not-found',
          orderKnown
            ? `The car ${vin} has no sharing module registered. If one is fitted, it was not ` +
                'registered at the provisioning step: look it up by the serial on its label.'
            : `No vehicle order is registered for VIN ${vin}. Check the VIN on the windscreen ` +
                "label or the registration document; if it is right, the car is not in the brand's " +
                'order system (contact the technical hotline).',
        );
      }
      return record;
    },
  });

  app.route({
    ...routeOptions(listAuditLog),
    handler: async (request) => {
      const { query } = request;
      const serial =
        query.serial === undefined
          ? undefined
          : canonicalSerial(query.serial, 'querystring.serial');
      const vin = query.vin === undefined ? undefined : normalVin(query.vin);
      const limit = query.limit ?? 50;
      const rows = await auditEntries(db, {
        ...(serial === undefined ? {} : { serial }),
        ...(vin === undefined ? {} : { vin }),
        limit,
      });
      await audit(
        db,
        {
          action: 'lookup.audit-log',
          principal: principalOf(request),
          serial,
          vin,
          details: { limit, rows: rows.length },
        },
        context.now(),
      );
      return rows.map(auditEntryView);
    },
  });
};
