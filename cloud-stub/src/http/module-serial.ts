/**
 * A module serial from a path, a query or a body, in any spelling the label allows
 * ("msm240012343"), as its canonical form ("MSM-24-001234-3"). The contract has no format for
 * serials, so the check runs here, in the serial rule's own words (a mistyped digit is named as
 * such): a 400 naming where the serial was.
 */
import { validateModuleSerial } from '@mini-sharing/shared-protocol/vehicle';
import { ApiProblem } from './errors.js';

export function canonicalSerial(text: string, path = 'params.serial'): string {
  const result = validateModuleSerial(text);
  if (result.ok) return result.serial;
  throw new ApiProblem(400, 'invalid-request', `${path}: ${result.message}`, [
    { path, message: result.message },
  ]);
}
