/**
 * Workshop grants: what the cloud issues to an approved workshop station so a signed-in mechanic
 * can work on one module for minutes (DESIGN.md "The links" 1 and 2):
 * - a **workshop test key**: a digital key for the station's key, unlock and lock only (never
 *   drive), at most 15 minutes, to test the key link after fitting or servicing a module;
 * - a **service authorization**: names the module, the station key and the service operations
 *   (flash, provision, actuating self-tests, clear fault codes, factory reset), at most 30
 *   minutes; the workshop app answers each module challenge with it (`proveServiceAuthorization`).
 *
 * Both only from a session signed in at an approved station (the station key is what they name).
 * Any dealer may service any car: when the car is already in use (its installation was
 * accepted), the owner is told. Issuance is rate-limited per mechanic and per station
 * (429 with Retry-After) and audit-logged.
 */
import { Type, type Static } from '@sinclair/typebox';
import { SERVICE_AUTHORIZATION_MAX_MS, ServiceOperation } from '../trust/service-authorization.js';
import { Permission, WORKSHOP_TEST_KEY_MAX_MS } from '../trust/digital-key.js';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { Base64Text, DateTimeSchema, HexBytes } from './formats.js';
import { ModuleSerialPathSchema } from './modules.js';
import { defineRoute } from './route.js';

const MINUTE_MS = 60_000;
/** Longest test key the cloud issues, in minutes (15). */
export const WORKSHOP_TEST_KEY_MAX_MINUTES = WORKSHOP_TEST_KEY_MAX_MS / MINUTE_MS;
/** Longest service authorization the cloud issues, in minutes (30). */
export const SERVICE_AUTHORIZATION_MAX_MINUTES = SERVICE_AUTHORIZATION_MAX_MS / MINUTE_MS;

/** What a workshop test key allows, by name; nothing else (never drive). */
export const WORKSHOP_TEST_KEY_PERMISSIONS = ['unlock', 'lock'] as const;
export type WorkshopTestKeyPermission = (typeof WORKSHOP_TEST_KEY_PERMISSIONS)[number];
export const WORKSHOP_TEST_KEY_PERMISSION_CODES: Readonly<
  Record<WorkshopTestKeyPermission, Permission>
> = { unlock: Permission.UNLOCK, lock: Permission.LOCK };

/** The service operations by name, as the contract spells them. */
export const SERVICE_OPERATION_NAMES = [
  'flash',
  'provision',
  'actuating-self-test',
  'clear-faults',
  'factory-reset',
] as const;
export type ServiceOperationName = (typeof SERVICE_OPERATION_NAMES)[number];
/** Name -> the trust format's enum value (what the signed authorization carries). */
export const SERVICE_OPERATION_CODES: Readonly<Record<ServiceOperationName, ServiceOperation>> = {
  flash: ServiceOperation.FLASH,
  provision: ServiceOperation.PROVISION,
  'actuating-self-test': ServiceOperation.ACTUATING_SELF_TEST,
  'clear-faults': ServiceOperation.CLEAR_FAULTS,
  'factory-reset': ServiceOperation.FACTORY_RESET,
};

const Hex16 = HexBytes(16, '16 bytes, hex.');
const Time = DateTimeSchema;

export const WorkshopTestKeyRequestSchema = Type.Object(
  {
    validForMinutes: Type.Integer({
      minimum: 1,
      maximum: WORKSHOP_TEST_KEY_MAX_MINUTES,
      description: `How long the key works, from now: 1 to ${WORKSHOP_TEST_KEY_MAX_MINUTES} minutes.`,
    }),
  },
  { title: 'WorkshopTestKeyRequest', additionalProperties: false },
);
export type WorkshopTestKeyRequest = Static<typeof WorkshopTestKeyRequestSchema>;

export const WorkshopTestKeySchema = Type.Object(
  {
    tokenId: Hex16,
    token: Base64Text(
      "The encoded Signed DigitalKey (base64): present it to the module over BLE and sign each command with the station's key.",
    ),
    moduleSerial: Type.String(),
    vin: Type.String(),
    permissions: Type.Array(StringEnum(WORKSHOP_TEST_KEY_PERMISSIONS), {
      description: 'Always unlock and lock: a test key never drives.',
    }),
    notBefore: Time,
    notAfter: Time,
    stationId: Type.String({ description: 'The station whose key the test key names.' }),
    ownerNotified: Type.Boolean({
      description: 'True when the car is in use (installation accepted) and its owner was told.',
    }),
  },
  { title: 'WorkshopTestKey', additionalProperties: false },
);
export type WorkshopTestKey = Static<typeof WorkshopTestKeySchema>;

export const ServiceAuthorizationRequestSchema = Type.Object(
  {
    operations: Type.Array(StringEnum(SERVICE_OPERATION_NAMES), {
      minItems: 1,
      maxItems: SERVICE_OPERATION_NAMES.length,
      uniqueItems: true,
      description: 'The operations the mechanic will do (each at most once in the list).',
    }),
    validForMinutes: Type.Integer({
      minimum: 1,
      maximum: SERVICE_AUTHORIZATION_MAX_MINUTES,
      description: `How long the authorization works, from now: 1 to ${SERVICE_AUTHORIZATION_MAX_MINUTES} minutes.`,
    }),
  },
  { title: 'ServiceAuthorizationRequest', additionalProperties: false },
);
export type ServiceAuthorizationRequest = Static<typeof ServiceAuthorizationRequestSchema>;

export const ServiceAuthorizationGrantSchema = Type.Object(
  {
    authorizationId: Hex16,
    authorization: Base64Text(
      "The encoded Signed ServiceAuthorization (base64): answer each module challenge with proveServiceAuthorization and the station's key.",
    ),
    moduleSerial: Type.String(),
    vin: Type.String(),
    operations: Type.Array(StringEnum(SERVICE_OPERATION_NAMES)),
    notBefore: Time,
    notAfter: Time,
    stationId: Type.String({ description: 'The station whose key the authorization names.' }),
    ownerNotified: Type.Boolean({
      description: 'True when the car is in use (installation accepted) and its owner was told.',
    }),
  },
  { title: 'ServiceAuthorizationGrant', additionalProperties: false },
);
export type ServiceAuthorizationGrant = Static<typeof ServiceAuthorizationGrantSchema>;

const RATE_LIMIT_NOTE =
  'Rate-limited per mechanic and per station: 429 with Retry-After (seconds) when exceeded.';

export const issueWorkshopTestKey = defineRoute({
  method: 'POST',
  url: '/v1/modules/:serial/test-keys',
  operationId: 'issueWorkshopTestKey',
  summary: "A workshop test key (unlock and lock only, minutes) for the station's key",
  description:
    'Only in a session signed in at an approved workshop station; the module must be ' +
    'registered (active). When the car is in use, its owner is notified. ' +
    RATE_LIMIT_NOTE,
  tags: ['workshop'],
  access: ['mechanic', 'dealer-admin'],
  bodyLimit: 1024,
  schema: {
    params: ModuleSerialPathSchema,
    body: WorkshopTestKeyRequestSchema,
    response: {
      201: WorkshopTestKeySchema,
      ...errorResponses(400, 401, 403, 404, 413, 415, 429),
    },
  },
});

export const issueServiceAuthorization = defineRoute({
  method: 'POST',
  url: '/v1/modules/:serial/service-authorizations',
  operationId: 'issueServiceAuthorization',
  summary: "A service authorization (operations, minutes) for one module and the station's key",
  description:
    'Only in a session signed in at an approved workshop station; the module must be known ' +
    '(registered, or decommissioned: it still needs one to be reset or re-provisioned). When ' +
    'the car is in use, its owner is notified. ' +
    RATE_LIMIT_NOTE,
  tags: ['workshop'],
  access: ['mechanic', 'dealer-admin'],
  bodyLimit: 1024,
  schema: {
    params: ModuleSerialPathSchema,
    body: ServiceAuthorizationRequestSchema,
    response: {
      201: ServiceAuthorizationGrantSchema,
      ...errorResponses(400, 401, 403, 404, 413, 415, 429),
    },
  },
});
