/**
 * The one error shape every API answer uses for a 4xx or 5xx: `{ error: { code, message, details } }`.
 * `code` is a stable enum for programs (the workshop app maps each to an action), `message` a
 * sentence a person can act on, `details` the individual problems (one per bad field) when there
 * are several.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { StringEnum } from './enums.js';

export const API_ERROR_CODES = [
  /** The body, query or path does not match the route's schema (wrong type, missing field). */
  'invalid-request',
  /** The body or query names a field the route does not know (often a typo). */
  'unknown-field',
  /** The request body is not valid JSON. */
  'malformed-json',
  /** The body is larger than the route accepts. */
  'payload-too-large',
  /** The body's Content-Type is not one the route reads. */
  'unsupported-media-type',
  /** A VIN that is not a VIN (length, characters, check digit). */
  'invalid-vin',
  /** A firmware image that is not a correctly signed image the cloud trusts. */
  'invalid-firmware-image',
  /** No credentials, or credentials that are not valid. */
  'unauthenticated',
  /** Valid credentials whose role may not use this route. */
  'forbidden',
  /** The thing named in the path does not exist (unknown VIN, unknown image) or no such route. */
  'not-found',
  /** Too many failed attempts (sign-in, password): wait the Retry-After seconds. */
  'too-many-attempts',
  /** The request contradicts what is stored (a different image for the same version). */
  'conflict',
  /**
   * A signature that should prove possession of a key does not verify, or the nonce it signs is
   * unknown, used or expired (module registration).
   */
  'invalid-proof',
  /** The car may not get a module: its vehicle order lacks option 5GE (details list the reasons). */
  'not-eligible',
  /** Too many issuances in a short time (workshop keys, authorizations): wait Retry-After seconds. */
  'rate-limited',
  /** The service is shutting down or its storage is unreachable; retry later. */
  'unavailable',
  /** A bug on the cloud's side; the message says nothing more. */
  'internal',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export const ApiErrorDetailSchema = Type.Object(
  {
    /** JSON path of the offending value ("body.optionCodes[2]", "params.vin"); "" for the whole request. */
    path: Type.String(),
    message: Type.String(),
  },
  { additionalProperties: false },
);
export type ApiErrorDetail = Static<typeof ApiErrorDetailSchema>;

export const ApiErrorSchema = Type.Object(
  {
    error: Type.Object(
      {
        code: StringEnum(API_ERROR_CODES),
        message: Type.String(),
        details: Type.Array(ApiErrorDetailSchema),
      },
      { additionalProperties: false },
    ),
  },
  {
    title: 'ApiError',
    description: 'An error: a stable code, a sentence to act on, and the problems one by one.',
    additionalProperties: false,
  },
);
export type ApiError = Static<typeof ApiErrorSchema>;

/** HTTP status codes a route may answer with the error shape. */
export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

/** The error responses of a route, for its response schema. */
export function errorResponses<const S extends readonly ApiErrorStatus[]>(
  ...statuses: S
): { [K in S[number]]: typeof ApiErrorSchema } {
  const responses: Partial<Record<ApiErrorStatus, TSchema>> = {};
  for (const status of statuses) responses[status] = ApiErrorSchema;
  return responses as { [K in S[number]]: typeof ApiErrorSchema };
}

export function isApiError(value: unknown): value is ApiError {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}
