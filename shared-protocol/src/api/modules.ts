/**
 * The module registry: registering a module at the provisioning step, and decommissioning one.
 *
 * The workshop app drives registration in three steps: (1) it asks the cloud for a fresh nonce
 * (createRegistrationNonce); (2) it passes the nonce to the module (ProvisionBeginRequest
 * .cloud_nonce), which generates its identity key and signs the nonce with it
 * (provisioningNonceInput in trust/module-certificate.ts); (3) it sends the module's answer here
 * (registerModule) and gets the module certificate and the module-link settings, which it passes
 * to the module in ProvisionCommitRequest. Both need a mechanic session at a workshop station.
 *
 * Bytes are base64 (standard alphabet); keys, nonces and signatures lower-case hex.
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { HardwareRevisionSchema } from './firmware.js';
import { Base64Text, HexBytes } from './formats.js';
import { defineRoute } from './route.js';
import { VinSchema } from './vehicles.js';

/** A module serial in a path: any spelling validateModuleSerial accepts ("msm240012343"). */
export const ModuleSerialTextSchema = Type.String({
  minLength: 1,
  maxLength: 40,
  description:
    'Module serial, e.g. MSM-24-001234-3 (case, spaces and dashes do not matter; the check ' +
    'character must be right).',
  examples: ['MSM-24-001234-3'],
});

export const ModuleSerialPathSchema = Type.Object(
  { serial: ModuleSerialTextSchema },
  { additionalProperties: false },
);
export type ModuleSerialPath = Static<typeof ModuleSerialPathSchema>;

/** A registration nonce lives this long (the module signs it during ProvisionBegin). */
export const REGISTRATION_NONCE_VALIDITY_MS = 10 * 60_000;

export const RegistrationNonceSchema = Type.Object(
  {
    nonce: HexBytes(
      32,
      'A fresh nonce, 32 bytes, for ProvisionBeginRequest.cloud_nonce. Single use.',
    ),
    expiresAt: Type.String({
      format: 'date-time',
      description: 'Register the module before then (10 minutes after issue).',
    }),
  },
  { title: 'RegistrationNonce', additionalProperties: false },
);
export type RegistrationNonce = Static<typeof RegistrationNonceSchema>;

export const MODULE_REGISTRATION_STATUSES = ['active', 'decommissioned'] as const;
export type ModuleRegistrationStatus = (typeof MODULE_REGISTRATION_STATUSES)[number];

const SEMVER =
  '^(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z.-]{1,40})?(\\+[0-9A-Za-z.-]{1,40})?$';

/** What the module answered at ProvisionBegin, and what the workshop read from it. */
export const ModuleRegistrationRequestSchema = Type.Object(
  {
    moduleSerial: ModuleSerialTextSchema,
    vin: VinSchema,
    hardwareRevision: HardwareRevisionSchema,
    firmwareVersion: Type.String({
      pattern: SEMVER,
      maxLength: 64,
      description: 'The firmware the module runs (semver), e.g. 1.1.0.',
      examples: ['1.1.0'],
    }),
    identityPublicKey: HexBytes(
      32,
      "The module's Ed25519 identity public key (ProvisionBeginResponse).",
    ),
    nonce: HexBytes(32, 'The nonce from createRegistrationNonce the module signed.'),
    nonceSignature: HexBytes(
      64,
      "ProvisionBeginResponse.nonce_signature: the identity key's signature over the nonce and serial.",
    ),
  },
  { title: 'ModuleRegistrationRequest', additionalProperties: false },
);
export type ModuleRegistrationRequest = Static<typeof ModuleRegistrationRequestSchema>;

export const ModuleRegistrationSchema = Type.Object(
  {
    id: Type.String({
      description: 'REG-<uuid>: this registration (a serial may have several over time).',
    }),
    moduleSerial: Type.String({ description: 'Canonical form, e.g. MSM-24-001234-3.' }),
    vin: Type.String({ description: 'Normalised VIN (upper case).' }),
    hardwareRevision: Type.String(),
    firmwareVersion: Type.String({ description: 'As registered.' }),
    identityPublicKey: Type.String({ description: 'Ed25519, lower-case hex.' }),
    status: StringEnum(MODULE_REGISTRATION_STATUSES, {
      description: 'active: fitted and registered; decommissioned: replaced or removed (history).',
    }),
    dealerId: Type.String({ description: 'The dealer whose workshop registered it.' }),
    mechanicId: Type.String({ description: 'Account id of the mechanic who registered it.' }),
    stationId: Type.String({ description: 'The workshop station it was registered at.' }),
    registeredAt: Type.String({ format: 'date-time' }),
    readyToShareAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When its installation report was accepted; null until then.',
    }),
    decommissionedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'ModuleRegistration', additionalProperties: false },
);
export type ModuleRegistration = Static<typeof ModuleRegistrationSchema>;

export const RegisteredModuleSchema = Type.Object(
  {
    module: ModuleRegistrationSchema,
    moduleCertificate: Base64Text(
      'Encoded mini.trust.v1.Signed ModuleCertificate: ProvisionCommitRequest.module_certificate.',
    ),
    moduleLinkSettings: Base64Text(
      'Encoded mini.trust.v1.ModuleLinkSettings (broker, MQTT credentials, CA, cloud signing key ' +
        'certificates, advertising secret): decode it into ProvisionCommitRequest.module_link. ' +
        'It holds the MQTT password, which the cloud does not keep: every answer has a new one.',
    ),
    cloudSigningKeys: Type.Array(
      Base64Text('Encoded Signed CloudKeyCertificate, certified by the cloud root key.'),
      { description: 'The cloud signing keys the settings carry: current, then next.' },
    ),
    brokerUrl: Type.String({ description: 'Where the module reaches the module link (MQTT).' }),
  },
  { title: 'RegisteredModule', additionalProperties: false },
);
export type RegisteredModule = Static<typeof RegisteredModuleSchema>;

export const ModuleDecommissionSchema = Type.Object(
  {
    reason: Type.String({
      minLength: 1,
      maxLength: 500,
      description: 'Why, for the audit log: e.g. "module replaced: no LTE after water damage".',
    }),
  },
  { title: 'ModuleDecommission', additionalProperties: false },
);
export type ModuleDecommission = Static<typeof ModuleDecommissionSchema>;

const STATION_RULE =
  'Only in a session signed in at an approved workshop station (its key signs every request).';

export const createRegistrationNonce = defineRoute({
  method: 'POST',
  url: '/v1/modules/registration-nonces',
  operationId: 'createRegistrationNonce',
  summary: 'A fresh nonce for the module to sign at ProvisionBegin (proof of its identity key)',
  description: `Valid 10 minutes, single use, for this station. ${STATION_RULE}`,
  tags: ['modules'],
  access: ['mechanic', 'dealer-admin'],
  bodyLimit: 1024,
  schema: {
    response: { 201: RegistrationNonceSchema, ...errorResponses(401, 403) },
  },
});

export const registerModule = defineRoute({
  method: 'POST',
  url: '/v1/modules',
  operationId: 'registerModule',
  summary: 'Register a module to a car at provisioning: its certificate and module-link settings',
  description:
    'Checks the serial, the VIN, that the vehicle order has 5GE, the nonce (issued to this ' +
    "station, unexpired, unused) and the module's signature over it. Idempotent by serial: the " +
    'same serial with the same identity key again (a retry after a lost answer; the nonce it ' +
    'already used is accepted) answers 200 with the same record, certificate and advertising ' +
    'secret and NEW MQTT credentials (the cloud keeps only a hash; commit the latest answer to ' +
    'the module). Another key for a registered serial, or a second module for a car, is 409 ' +
    `until a dealer admin decommissions the old registration. ${STATION_RULE}`,
  tags: ['modules'],
  access: ['mechanic', 'dealer-admin'],
  bodyLimit: 4096,
  schema: {
    body: ModuleRegistrationRequestSchema,
    response: {
      200: RegisteredModuleSchema,
      201: RegisteredModuleSchema,
      ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422),
    },
  },
});

export const decommissionModule = defineRoute({
  method: 'POST',
  url: '/v1/modules/:serial/decommission',
  operationId: 'decommissionModule',
  summary: "End a module's active registration (replaced or removed); audit-logged",
  description:
    'Any dealer admin (any dealer may service any car). Afterwards the module link refuses the ' +
    'module, and the serial (with a new identity key) or another module for the car registers ' +
    'normally.',
  tags: ['modules'],
  access: ['dealer-admin'],
  bodyLimit: 4096,
  schema: {
    params: ModuleSerialPathSchema,
    body: ModuleDecommissionSchema,
    response: {
      200: ModuleRegistrationSchema,
      ...errorResponses(400, 401, 403, 404, 413, 415),
    },
  },
});
