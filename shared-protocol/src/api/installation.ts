/**
 * The installation report: what the workshop app sends once a mechanic has fitted, flashed,
 * provisioned and tested a module. The cloud judges it with the diagnostics rule
 * (acceptInstallationReport); an accepted report makes the module ready to share.
 *
 * The workshop may queue a report while offline and send it later, from the same station, signed
 * in as any mechanic of the dealer: `reportId` (a UUID the workshop app makes) keeps a report
 * sent twice from being stored twice.
 *
 * The schema here carries the shapes and bounds (strict: unknown fields are refused); the rules
 * it cannot say (serial check character, VIN, UTC times, semantic version, duplicate tests) stay
 * in diagnostics/installation-report.ts, which the cloud runs after it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ReportRejectionReason } from '../diagnostics/acceptance.js';
import { INSTALLATION_REPORT_VERSION } from '../diagnostics/installation-report.js';
import { SELF_TEST_OUTCOMES } from '../diagnostics/self-tests.js';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { ModuleSerialPathSchema, ModuleSerialTextSchema } from './modules.js';
import { defineRoute } from './route.js';
import { VinSchema } from './vehicles.js';

/** Text a person typed or a program wrote: not empty, bounded. */
const Text = (maxLength: number, description?: string) =>
  Type.String({ minLength: 1, maxLength, ...(description === undefined ? {} : { description }) });

export const SelfTestReportEntrySchema = Type.Object(
  {
    testId: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Self-test catalogue id, e.g. "supply-voltage".',
    }),
    outcome: StringEnum(SELF_TEST_OUTCOMES),
    measuredValue: Type.Optional(
      Type.Number({ description: "In the catalogue's unit of the test; absent for pass/fail." }),
    ),
    detail: Type.String({
      maxLength: 2000,
      description: 'What was measured or what failed, for a technician.',
    }),
    unit: Type.Optional(
      Type.String({ minLength: 1, maxLength: 16, description: 'Of the value and the limits.' }),
    ),
    limitMin: Type.Optional(
      Type.Number({ description: 'Lowest passing value the module applied, inclusive.' }),
    ),
    limitMax: Type.Optional(
      Type.Number({ description: 'Highest passing value the module applied, inclusive.' }),
    ),
    faultCode: Type.Optional(
      Type.String({
        pattern: '^[PCBU][0-3][0-9A-F]{3}$',
        description: 'The fault code the module stored for a failure, e.g. U1C60.',
      }),
    ),
    durationMs: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { title: 'SelfTestReportEntry', additionalProperties: false },
);

/** The report's own fields (diagnostics InstallationReport), as sent and as stored. */
const reportProperties = {
  reportVersion: Type.Literal(INSTALLATION_REPORT_VERSION),
  moduleSerial: ModuleSerialTextSchema,
  vin: VinSchema,
  mechanic: Type.Object(
    {
      id: Text(200, 'Account id of the mechanic who ran the tests.'),
      name: Text(200),
    },
    { additionalProperties: false },
  ),
  dealer: Type.Object(
    {
      id: Text(200),
      name: Text(200),
      stationId: Text(200, 'The station the tests ran at (and the report is sent from).'),
    },
    { additionalProperties: false },
  ),
  firmwareVersion: Text(64, 'Semantic version the module runs, e.g. 1.4.0.'),
  startedAt: Text(40, 'ISO 8601 UTC, e.g. 2024-05-02T09:14:03.120Z.'),
  finishedAt: Text(40, 'ISO 8601 UTC, not before startedAt.'),
  selfTests: Type.Array(SelfTestReportEntrySchema, { maxItems: 64 }),
};

/** A report as the cloud stored it: checked and normalised (answers carry no input formats). */
export const InstallationReportSchema = Type.Object(
  {
    ...reportProperties,
    moduleSerial: Type.String({ description: 'Canonical form, e.g. MSM-24-001234-3.' }),
    vin: Type.String({ description: 'Normalised VIN (upper case).' }),
  },
  { title: 'InstallationReport', additionalProperties: false },
);
export type InstallationReportBody = Static<typeof InstallationReportSchema>;

export const InstallationReportSubmissionSchema = Type.Object(
  {
    reportId: Type.String({
      format: 'uuid',
      description:
        'Made by the workshop app when the tests finish; the same report sent again (a queued ' +
        'one) is stored once.',
    }),
    ...reportProperties,
  },
  { title: 'InstallationReportSubmission', additionalProperties: false },
);
export type InstallationReportSubmission = Static<typeof InstallationReportSubmissionSchema>;

/** Every reason the acceptance rule can give, in its order. */
export const REPORT_REJECTION_REASONS = [
  'other-module',
  'other-vehicle',
  'mechanic-not-signed-in',
  'different-mechanic',
  'mandatory-test-missing',
  'mandatory-test-not-passed',
  'measurement-out-of-limits',
] as const satisfies readonly ReportRejectionReason[];
// Compile-time check that the list above names every reason of the rule.
type MissingReason = Exclude<ReportRejectionReason, (typeof REPORT_REJECTION_REASONS)[number]>;
const _everyReasonListed: MissingReason extends never ? true : MissingReason = true;

export const INSTALLATION_VERDICTS = ['accepted', 'rejected'] as const;

export const ReportRejectionViewSchema = Type.Object(
  {
    reason: StringEnum(REPORT_REJECTION_REASONS),
    message: Type.String({ description: 'What the mechanic reads and does (lists the tests).' }),
  },
  { additionalProperties: false },
);

export const InstallationReportAnswerSchema = Type.Object(
  {
    reportId: Type.String(),
    moduleSerial: Type.String({ description: 'Canonical serial of the registered module.' }),
    vin: Type.String({ description: 'The VIN the module is registered to.' }),
    verdict: StringEnum(INSTALLATION_VERDICTS),
    reasons: Type.Array(ReportRejectionViewSchema, {
      description: 'Every reason against, in a stable order; empty when accepted.',
    }),
    readyToShareAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description:
        'Since when the module may share the car (the first accepted report); null while no ' +
        'report was accepted.',
    }),
    receivedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'InstallationReportAnswer', additionalProperties: false },
);
export type InstallationReportAnswer = Static<typeof InstallationReportAnswerSchema>;

export const submitInstallationReport = defineRoute({
  method: 'POST',
  url: '/v1/modules/:serial/installation-reports',
  operationId: 'submitInstallationReport',
  summary: 'Send the installation report of a registered module; accepted makes it ready to share',
  description:
    'Only from a workshop station session. The report must come from the station it names, ' +
    "of the signed-in mechanic's dealer, and name a mechanic or dealer admin of that dealer (a " +
    'queued report may be sent by another mechanic). 201 with the verdict; the same reportId ' +
    'and content again answers 200 with the stored verdict, other content 409.',
  tags: ['modules'],
  access: ['mechanic', 'dealer-admin'],
  bodyLimit: 64 * 1024,
  schema: {
    params: ModuleSerialPathSchema,
    body: InstallationReportSubmissionSchema,
    response: {
      200: InstallationReportAnswerSchema,
      201: InstallationReportAnswerSchema,
      ...errorResponses(400, 401, 403, 404, 409, 413, 415),
    },
  },
});
