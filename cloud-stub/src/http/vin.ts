/**
 * A VIN from a path or a body as stored: upper case, trimmed. The contract's `vin` format has
 * already refused what is not a VIN (400 invalid-vin, in the VIN rule's words); this only
 * normalises, and refuses the same way should a route ever skip the format.
 */
import { validateVin } from '@mini-sharing/shared-protocol/vehicle';
import { ApiProblem } from './errors.js';

export function normalVin(text: string): string {
  const result = validateVin(text);
  if (!result.ok) throw new ApiProblem(400, 'invalid-vin', result.message);
  return result.vin;
}
