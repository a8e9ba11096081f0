/**
 * The product rule: a car is eligible for MINI Sharing only with option 5GE and a dealer-installed
 * module. The workshop app checks the vehicle order (from the cloud) and the car's own coding
 * (read through the module); both must have 5GE.
 */
import { SHARING_OPTION_CODE, hasOptionCode } from './option-codes.js';

export interface EligibilityInput {
  /** Option codes of the vehicle order, as the cloud holds them. */
  orderOptionCodes: readonly string[];
  /**
   * Option codes as coded in the car, read through the module (VehicleInfoResponse). Absent
   * until the module is connected: the check then cannot pass yet.
   */
  carCodedOptionCodes?: readonly string[];
  /** The module was installed by a dealer (registered from a dealer's workshop station). */
  moduleInstalledByDealer: boolean;
}

export type IneligibilityReason =
  | 'no-5ge-in-order'
  | 'no-5ge-in-car-coding'
  | 'order-and-car-disagree'
  | 'car-coding-not-read'
  | 'no-dealer-installed-module';

export interface IneligibilityFinding {
  reason: IneligibilityReason;
  /** What the mechanic reads and does. */
  message: string;
}

export type EligibilityCheck =
  { eligible: true } | { eligible: false; reasons: IneligibilityFinding[] };

const MESSAGES: Readonly<Record<IneligibilityReason, string>> = {
  'no-5ge-in-order':
    'The vehicle order has no option 5GE (Flexible CarSharing Preparation): this car cannot take a sharing module. Check the VIN; if it is right, the car is not eligible.',
  'no-5ge-in-car-coding':
    "The car's own coding has no option 5GE: the sharing interface is not enabled in this car. Check the VIN, then have the car's coding checked before installing.",
  'order-and-car-disagree':
    "The vehicle order and the car's coding disagree about option 5GE. Check that the VIN entered is this car's VIN; if it is, contact the technical hotline before installing.",
  'car-coding-not-read':
    "The car's coding has not been read yet. Connect the module to the car and the workshop PC, then check again.",
  'no-dealer-installed-module':
    'MINI Sharing needs a module installed by an authorised dealer. Install and register the module at the dealership.',
};

/**
 * Checks eligibility and lists every reason against it, in a stable order, so the mechanic sees
 * all problems at once. Never eligible without the car's coding: the order alone is not enough.
 */
export function checkEligibility(input: EligibilityInput): EligibilityCheck {
  const reasons: IneligibilityReason[] = [];
  const inOrder = hasOptionCode(input.orderOptionCodes, SHARING_OPTION_CODE);
  if (!inOrder) reasons.push('no-5ge-in-order');
  if (input.carCodedOptionCodes === undefined) {
    reasons.push('car-coding-not-read');
  } else {
    const inCar = hasOptionCode(input.carCodedOptionCodes, SHARING_OPTION_CODE);
    if (!inCar) reasons.push('no-5ge-in-car-coding');
    if (inCar !== inOrder) reasons.push('order-and-car-disagree');
  }
  if (!input.moduleInstalledByDealer) reasons.push('no-dealer-installed-module');
  if (reasons.length === 0) return { eligible: true };
  return {
    eligible: false,
    reasons: reasons.map((reason) => ({ reason, message: MESSAGES[reason] })),
  };
}

/** The sentence for a reason, for callers that only kept the reason code. */
export function describeIneligibility(reason: IneligibilityReason): string {
  return MESSAGES[reason];
}
