/**
 * Eligibility by VIN, as far as the cloud can judge it: shared-protocol's rule (checkEligibility)
 * over the vehicle order and, when the caller read it through the module, the car's own coding.
 * The third condition, a dealer-installed module, is judged when the module is registered, so
 * its reason is left out here, as is "car coding not read" when the caller sent none.
 */
import type { EligibilityAnswer, VehicleOrder } from '@mini-sharing/shared-protocol/api';
import { checkEligibility, type IneligibilityReason } from '@mini-sharing/shared-protocol/vehicle';

/** Reasons for other checks than this one. */
const NOT_JUDGED_HERE: ReadonlySet<IneligibilityReason> = new Set([
  'no-dealer-installed-module',
  'car-coding-not-read',
]);

export function judgeEligibility(
  order: VehicleOrder,
  carCodedOptionCodes?: readonly string[],
): EligibilityAnswer {
  const check = checkEligibility({
    orderOptionCodes: order.optionCodes,
    ...(carCodedOptionCodes === undefined ? {} : { carCodedOptionCodes }),
    // Judged at module registration (see above); its reason is filtered out below.
    moduleInstalledByDealer: false,
  });
  const reasons = check.eligible
    ? []
    : check.reasons.filter((finding) => !NOT_JUDGED_HERE.has(finding.reason));
  return {
    vin: order.vin,
    eligible: reasons.length === 0,
    reasons,
    checked: { vehicleOrder: true, carCoding: carCodedOptionCodes !== undefined },
    orderOptionCodes: order.optionCodes,
  };
}
