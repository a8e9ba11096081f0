/**
 * Look-ups for mechanics, dealer admins and call-centre agents: what a technician needs about an
 * installed module (registration, readiness, presence, last contact, firmware, fault codes, the
 * latest installation report), found by module serial or by VIN; and the audit log. Any dealer
 * may service any car, so any dealer's staff may look any module up; every look-up is recorded
 * in the audit log, found or not.
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { DateTimeSchema } from './formats.js';
import {
  INSTALLATION_VERDICTS,
  InstallationReportSchema,
  ReportRejectionViewSchema,
} from './installation.js';
import {
  ModuleRegistrationSchema,
  ModuleSerialPathSchema,
  ModuleSerialTextSchema,
} from './modules.js';
import { defineRoute } from './route.js';
import { WORKSHOP_ROLES } from './roles.js';
import { VinParamsSchema, VinSchema } from './vehicles.js';

const Time = DateTimeSchema;
const NullableTime = Type.Union([Time, Type.Null()]);

export const MODULE_PRESENCE_STATUSES = ['online', 'offline', 'connection-lost'] as const;

export const ModuleRecordSchema = Type.Object(
  {
    registration: ModuleRegistrationSchema,
    readyToShare: Type.Boolean({
      description: 'Active and with an accepted installation report: the car may be shared.',
    }),
    presence: Type.Union(
      [
        Type.Object(
          {
            status: StringEnum(MODULE_PRESENCE_STATUSES, {
              description: 'connection-lost: the broker saw the connection drop (last will).',
            }),
            changedAt: NullableTime,
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'On the module link; null when the module never connected.' },
    ),
    lastContactAt: Type.Union([Time, Type.Null()], {
      description: 'Last message the cloud accepted from the module.',
    }),
    firmwareVersion: Type.String({
      description: 'As the module reported it over the link; the registered one until it has.',
    }),
    faultCodes: Type.Array(
      Type.Object(
        {
          code: Type.String({ description: 'DTC-shaped, e.g. B1C00 (diagnostics fault codes).' }),
          active: Type.Boolean({ description: 'Present now; false: stored from the past.' }),
          occurrences: Type.Integer({ minimum: 0 }),
          firstReportedAt: Time,
          lastReportedAt: Time,
        },
        { additionalProperties: false },
      ),
      { description: 'As the module reported them; active first, then the latest first.' },
    ),
    installationReport: Type.Union(
      [
        Type.Object(
          {
            reportId: Type.String(),
            verdict: StringEnum(INSTALLATION_VERDICTS),
            reasons: Type.Array(ReportRejectionViewSchema),
            receivedAt: Time,
            report: InstallationReportSchema,
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'The latest report of this registration; null when none arrived yet.' },
    ),
  },
  { title: 'ModuleRecord', additionalProperties: false },
);
export type ModuleRecord = Static<typeof ModuleRecordSchema>;

const moduleRecordDescription =
  'The active registration, else the latest one (a decommissioned module). Every look-up, ' +
  'found or not, is written to the audit log with who asked, from which station.';

export const getModuleRecord = defineRoute({
  method: 'GET',
  url: '/v1/modules/:serial',
  operationId: 'getModuleRecord',
  summary: 'What a technician needs about a module: readiness, presence, firmware, fault codes',
  description: moduleRecordDescription,
  tags: ['modules'],
  access: WORKSHOP_ROLES,
  schema: {
    params: ModuleSerialPathSchema,
    response: { 200: ModuleRecordSchema, ...errorResponses(400, 401, 403, 404) },
  },
});

export const getVehicleModuleRecord = defineRoute({
  method: 'GET',
  url: '/v1/vehicles/:vin/module',
  operationId: 'getVehicleModuleRecord',
  summary: "The module record of a car's sharing module, by VIN",
  description: moduleRecordDescription,
  tags: ['vehicles', 'modules'],
  access: WORKSHOP_ROLES,
  schema: {
    params: VinParamsSchema,
    response: { 200: ModuleRecordSchema, ...errorResponses(400, 401, 403, 404) },
  },
});

export const AuditLogQuerySchema = Type.Object(
  {
    serial: Type.Optional(ModuleSerialTextSchema),
    vin: Type.Optional(VinSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  },
  { additionalProperties: false },
);
export type AuditLogQuery = Static<typeof AuditLogQuerySchema>;

export const AuditLogEntrySchema = Type.Object(
  {
    at: Time,
    action: Type.String({ description: 'e.g. module.register, grant.test-key, lookup.module.' }),
    accountId: Type.String(),
    role: Type.String(),
    dealerId: Type.Union([Type.String(), Type.Null()]),
    stationId: Type.Union([Type.String(), Type.Null()]),
    moduleSerial: Type.Union([Type.String(), Type.Null()]),
    vin: Type.Union([Type.String(), Type.Null()]),
    details: Type.Record(Type.String(), Type.Unknown(), {
      description: 'What else matters for the action (verdict, operations, whether found).',
    }),
  },
  { title: 'AuditLogEntry', additionalProperties: false },
);
export type AuditLogEntry = Static<typeof AuditLogEntrySchema>;

export const listAuditLog = defineRoute({
  method: 'GET',
  url: '/v1/audit-log',
  operationId: 'listAuditLog',
  summary: 'The audit log, newest first: of a module, of a car, or all',
  description:
    'Filtered by module serial and/or VIN (both: rows matching both); without either, the ' +
    'newest rows. This read is itself audited.',
  tags: ['audit'],
  access: ['agent'],
  schema: {
    querystring: AuditLogQuerySchema,
    response: { 200: Type.Array(AuditLogEntrySchema), ...errorResponses(400, 401, 403) },
  },
});
