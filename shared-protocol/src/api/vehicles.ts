/**
 * Vehicles: the vehicle-order registry (VIN -> model, market, production date, option codes) and
 * the eligibility check by VIN.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { IneligibilityReason } from '../vehicle/eligibility.js';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { VIN_FORMAT } from './formats.js';
import { defineRoute } from './route.js';
import { WORKSHOP_ROLES } from './roles.js';

export const VinSchema = Type.String({
  format: VIN_FORMAT,
  maxLength: 64,
  description:
    'Vehicle identification number: 17 characters, no I, O or Q; the check digit must be right ' +
    'for North American cars. Case and surrounding spaces do not matter.',
  examples: ['WMW31DH0302S71642'],
});

export const VinParamsSchema = Type.Object({ vin: VinSchema }, { additionalProperties: false });
export type VinParams = Static<typeof VinParamsSchema>;

const OptionCodeSchema = Type.String({
  pattern: '^[0-9A-Z]{3}$',
  description: 'A vehicle order option code, e.g. 5GE (Flexible CarSharing Preparation).',
});

export const VehicleOrderSchema = Type.Object(
  {
    vin: Type.String({ description: 'Normalised VIN (upper case).' }),
    model: Type.String(),
    market: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 market.' }),
    productionDate: Type.String({ format: 'date' }),
    optionCodes: Type.Array(OptionCodeSchema, { description: 'Sorted, no duplicates.' }),
  },
  { title: 'VehicleOrder', additionalProperties: false },
);
export type VehicleOrder = Static<typeof VehicleOrderSchema>;

/** What the brand's order system sends to register or correct a vehicle order. */
export const VehicleOrderInputSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 120 }),
    market: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 market.' }),
    productionDate: Type.String({ format: 'date', description: 'YYYY-MM-DD.' }),
    optionCodes: Type.Array(
      Type.String({ minLength: 1, maxLength: 8, description: 'e.g. "5GE", "S5GE", "$5GE".' }),
      { maxItems: 200 },
    ),
  },
  { title: 'VehicleOrderInput', additionalProperties: false },
);
export type VehicleOrderInput = Static<typeof VehicleOrderInputSchema>;

/** Every reason shared-protocol's eligibility rule can give, in its order. */
export const INELIGIBILITY_REASONS = [
  'no-5ge-in-order',
  'no-5ge-in-car-coding',
  'order-and-car-disagree',
  'car-coding-not-read',
  'no-dealer-installed-module',
] as const satisfies readonly IneligibilityReason[];
// Compile-time check that the list above names every reason of the rule.
type MissingReason = Exclude<IneligibilityReason, (typeof INELIGIBILITY_REASONS)[number]>;
const _everyReasonListed: MissingReason extends never ? true : MissingReason = true;

export const EligibilityQuerySchema = Type.Object(
  {
    carOptionCodes: Type.Optional(
      Type.String({
        maxLength: 2000,
        description:
          "The car's own coding as read through the module (option codes separated by commas " +
          'or spaces). When given, the answer also says whether the car and its order agree.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EligibilityQuery = Static<typeof EligibilityQuerySchema>;

export const EligibilityAnswerSchema = Type.Object(
  {
    vin: Type.String(),
    eligible: Type.Boolean({
      description:
        'True when everything the cloud checked allows a sharing module: the vehicle order has ' +
        '5GE and, when the car coding was given, the car agrees. The dealer-installed module is ' +
        'checked when the module is registered.',
    }),
    reasons: Type.Array(
      Type.Object(
        {
          reason: StringEnum(INELIGIBILITY_REASONS),
          message: Type.String({ description: 'What the mechanic reads and does.' }),
        },
        { additionalProperties: false },
      ),
      { description: 'Every reason against, in a stable order; empty when eligible.' },
    ),
    checked: Type.Object(
      { vehicleOrder: Type.Literal(true), carCoding: Type.Boolean() },
      { additionalProperties: false },
    ),
    orderOptionCodes: Type.Array(Type.String()),
  },
  { title: 'EligibilityAnswer', additionalProperties: false },
);
export type EligibilityAnswer = Static<typeof EligibilityAnswerSchema>;

export const getVehicleOrder = defineRoute({
  method: 'GET',
  url: '/v1/vehicles/:vin',
  operationId: 'getVehicleOrder',
  summary: 'The vehicle order of a VIN: model, market, production date, option codes',
  tags: ['vehicles'],
  access: WORKSHOP_ROLES,
  schema: {
    params: VinParamsSchema,
    response: { 200: VehicleOrderSchema, ...errorResponses(400, 401, 403, 404) },
  },
});

export const putVehicleOrder = defineRoute({
  method: 'PUT',
  url: '/v1/vehicles/:vin',
  operationId: 'putVehicleOrder',
  summary: 'Register or correct the vehicle order of a VIN (brand order system)',
  description: 'Idempotent: the same order sent twice is stored once.',
  tags: ['vehicles'],
  access: ['agent'],
  schema: {
    params: VinParamsSchema,
    body: VehicleOrderInputSchema,
    response: {
      200: VehicleOrderSchema,
      201: VehicleOrderSchema,
      ...errorResponses(400, 401, 403, 413, 415),
    },
  },
});

export const getVehicleEligibility = defineRoute({
  method: 'GET',
  url: '/v1/vehicles/:vin/eligibility',
  operationId: 'getVehicleEligibility',
  summary: 'Whether a car may take a sharing module, with every reason when not',
  tags: ['vehicles'],
  access: WORKSHOP_ROLES,
  schema: {
    params: VinParamsSchema,
    querystring: EligibilityQuerySchema,
    response: { 200: EligibilityAnswerSchema, ...errorResponses(400, 401, 403, 404) },
  },
});
