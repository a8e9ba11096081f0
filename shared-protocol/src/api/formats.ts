/**
 * String formats the contract uses beyond JSON Schema's standard ones. A validator that checks
 * the contract registers these by name (Ajv: `ajv.addFormat(name, check)`; TypeBox:
 * `FormatRegistry.Set(name, check)`), so a client refuses what the cloud would refuse.
 */
import { validateVin } from '../vehicle/vin.js';

/** A VIN as validateVin accepts it (any case, surrounding spaces allowed). */
export const VIN_FORMAT = 'vin';

export const API_FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  [VIN_FORMAT]: (value) => validateVin(value).ok,
};
