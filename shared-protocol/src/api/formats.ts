/**
 * String formats the contract uses beyond JSON Schema's standard ones. A validator that checks
 * the contract registers these by name (Ajv: `ajv.addFormat(name, check)`; TypeBox:
 * `FormatRegistry.Set(name, check)`), so a client refuses what the cloud would refuse.
 */
import { Type, type StringOptions } from '@sinclair/typebox';
import { validateVin } from '../vehicle/vin.js';

/** `bytes` bytes as lower-case hex: keys, ids, nonces, signatures. */
export const HexBytes = (bytes: number, description?: string) =>
  Type.String({
    pattern: `^[0-9a-f]{${bytes * 2}}$`,
    ...(description === undefined ? {} : { description }),
  });

/** Bytes as base64 (standard alphabet): certificates, tokens, images. */
export const Base64Text = (description: string, options: StringOptions = {}) =>
  Type.String({
    contentEncoding: 'base64',
    pattern: '^[A-Za-z0-9+/]*={0,2}$',
    description,
    ...options,
  });

/** A time as ISO 8601 UTC. */
export const DateTimeSchema = Type.String({ format: 'date-time' });

/** A VIN as validateVin accepts it (any case, surrounding spaces allowed). */
export const VIN_FORMAT = 'vin';

export const API_FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  [VIN_FORMAT]: (value) => validateVin(value).ok,
};
