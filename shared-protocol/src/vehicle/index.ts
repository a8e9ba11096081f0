// Vehicle rules: VINs, manufacturers, option codes, eligibility, module hardware and serials,
// markets, and the fleet file. No I/O and no clock.
export type { VehicleBrand, VinRegion, WorldManufacturer } from './wmi.js';
export { WORLD_MANUFACTURERS, isMiniWmi, manufacturerOf, vinRegionOf } from './wmi.js';
export type { InvalidVin, ValidVin, VinOptions, VinRejection, VinValidation } from './vin.js';
export {
  VIN_CHECK_DIGIT_POSITION,
  VIN_LENGTH,
  describeVinProblem,
  validateVin,
  vinCheckDigit,
  withVinCheckDigit,
} from './vin.js';
export type { OptionCodesParse } from './option-codes.js';
export {
  SHARING_OPTION_CODE,
  hasOptionCode,
  normalizeOptionCode,
  parseOptionCodes,
} from './option-codes.js';
export type {
  EligibilityCheck,
  EligibilityInput,
  IneligibilityFinding,
  IneligibilityReason,
} from './eligibility.js';
export { checkEligibility, describeIneligibility } from './eligibility.js';
export type { HardwareRevision, HardwareRevisionId } from './hardware.js';
export {
  HARDWARE_REVISIONS,
  hardwareRevisionInfo,
  isSupportedHardwareRevision,
  parseHardwareRevision,
} from './hardware.js';
export type {
  InvalidModuleSerial,
  ModuleSerialValidation,
  ValidModuleSerial,
} from './module-serial.js';
export {
  MODULE_SERIAL_PREFIX,
  canonicalModuleSerial,
  describeModuleSerialProblem,
  formatModuleSerial,
  mod11_2CheckCharacter,
  validateModuleSerial,
} from './module-serial.js';
export type { Market, Money } from './markets.js';
export { MARKETS, isCountryCode, marketOf } from './markets.js';
export type {
  Fleet,
  FleetFileError,
  FleetFileParse,
  FleetModuleHardware,
  FleetVehicle,
  FuelType,
} from './fleet-file.js';
export {
  FLEET_FILE_VERSION,
  FUEL_TYPES,
  formatFleetFileError,
  parseFleetFile,
} from './fleet-file.js';
export { EXAMPLE_FLEET_JSON, exampleFleet } from './example-fleet.js';
export { buildVehicleVectors } from './vectors.js';
