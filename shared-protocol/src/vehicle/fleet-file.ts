/**
 * The fleet file: the cars the simulated world builds and the cloud's seed registers. A
 * hand-edited JSON file, so the parser is strict (unknown properties are errors, catching typos)
 * and lists every problem with its JSON path at once.
 *
 * Hand-written rather than a schema library's: shared-protocol has none yet. A zod or TypeBox
 * schema would replace `readVehicle` one for one; the VIN, serial and date rules stay here.
 */
import { isRecord, parseJsonInput, typeName } from '../json-input/index.js';
import { parseHardwareRevision, type HardwareRevisionId } from './hardware.js';
import { isCountryCode } from './markets.js';
import {
  canonicalModuleSerial,
  describeModuleSerialProblem,
  validateModuleSerial,
} from './module-serial.js';
import { parseOptionCodes } from './option-codes.js';
import { describeVinProblem, validateVin } from './vin.js';

export const FLEET_FILE_VERSION = 1;

export const FUEL_TYPES = ['petrol', 'diesel', 'electric', 'plug-in-hybrid'] as const;
export type FuelType = (typeof FUEL_TYPES)[number];

export interface FleetModuleHardware {
  hardwareRevision: HardwareRevisionId;
  /** Canonical module serial. */
  moduleSerial: string;
}

export interface FleetVehicle {
  /** Normalised VIN (upper case). */
  vin: string;
  model: string;
  /** ISO 3166-1 alpha-2 market the car is coded for. */
  market: string;
  /** YYYY-MM-DD. */
  productionDate: string;
  /** Normalised vehicle order option codes (sorted, no duplicates). */
  optionCodes: string[];
  /** A sharing module already fitted; absent for cars without one. */
  moduleHardware?: FleetModuleHardware;
  fuel?: FuelType;
}

export interface Fleet {
  version: typeof FLEET_FILE_VERSION;
  vehicles: FleetVehicle[];
}

export interface FleetFileError {
  /** JSON path of the offending value, e.g. `vehicles[2].vin`; empty for the whole file. */
  path: string;
  message: string;
}

export type FleetFileParse = { ok: true; fleet: Fleet } | { ok: false; errors: FleetFileError[] };

/** `vehicles[2].vin: check digit mismatch: …` */
export function formatFleetFileError(error: FleetFileError): string {
  return `${error.path === '' ? 'fleet file' : error.path}: ${error.message}`;
}

const VEHICLE_KEYS = new Set([
  'vin',
  'model',
  'market',
  'productionDate',
  'optionCodes',
  'moduleHardware',
  'fuel',
]);
const MODULE_KEYS = new Set(['hardwareRevision', 'moduleSerial']);

/**
 * Parses a fleet file from its JSON text, or from an already-parsed value (a string is always
 * taken as JSON text). Never throws.
 */
export function parseFleetFile(input: unknown): FleetFileParse {
  const parsed = parseJsonInput(input);
  if (!parsed.ok) return { ok: false, errors: [{ path: '', message: parsed.message }] };
  const value = parsed.value;
  const errors: FleetFileError[] = [];
  const fail = (path: string, message: string) => errors.push({ path, message });

  if (!isRecord(value)) {
    fail('', `must be a JSON object, is ${typeName(value)}`);
    return { ok: false, errors };
  }
  for (const key of Object.keys(value)) {
    if (key !== 'version' && key !== 'vehicles') fail(key, 'unknown property');
  }
  if (value.version !== FLEET_FILE_VERSION) {
    fail(
      'version',
      `must be ${FLEET_FILE_VERSION}, is ${JSON.stringify(value.version) ?? 'missing'}`,
    );
  }
  const vehicles: FleetVehicle[] = [];
  if (!Array.isArray(value.vehicles)) {
    fail('vehicles', `must be an array, is ${typeName(value.vehicles)}`);
  } else {
    const firstVin = new Map<string, number>();
    const firstSerial = new Map<string, number>();
    value.vehicles.forEach((raw: unknown, index: number) => {
      const path = `vehicles[${index}]`;
      const vehicle = readVehicle(raw, path, fail);
      if (vehicle === undefined) return;
      const earlier = firstVin.get(vehicle.vin);
      if (earlier !== undefined) {
        fail(`${path}.vin`, `duplicate VIN ${vehicle.vin}, already in vehicles[${earlier}]`);
      } else {
        firstVin.set(vehicle.vin, index);
      }
      const serial = vehicle.moduleHardware?.moduleSerial;
      if (serial !== undefined) {
        const other = firstSerial.get(serial);
        if (other !== undefined) {
          fail(
            `${path}.moduleHardware.moduleSerial`,
            `module ${serial} is already fitted to vehicles[${other}]`,
          );
        } else {
          firstSerial.set(serial, index);
        }
      }
      vehicles.push(vehicle);
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, fleet: { version: FLEET_FILE_VERSION, vehicles } };
}

type Fail = (path: string, message: string) => void;

/** One vehicle, or undefined when any of its fields is wrong (each reported through `fail`). */
function readVehicle(raw: unknown, path: string, fail: Fail): FleetVehicle | undefined {
  if (!isRecord(raw)) {
    fail(path, `must be an object, is ${typeName(raw)}`);
    return undefined;
  }
  let valid = true;
  const bad = (at: string, message: string) => {
    valid = false;
    fail(`${path}.${at}`, message);
  };
  for (const key of Object.keys(raw)) {
    if (!VEHICLE_KEYS.has(key)) bad(key, 'unknown property');
  }

  const market = readString(raw.market, 'market', bad);
  if (market !== undefined && !isCountryCode(market)) {
    bad('market', `must be an ISO 3166-1 alpha-2 code such as "DE", is ${JSON.stringify(market)}`);
  }
  let vin = '';
  const vinText = readString(raw.vin, 'vin', bad);
  if (vinText !== undefined) {
    const result = validateVin(vinText, market === undefined ? {} : { market });
    if (result.ok) vin = result.vin;
    else bad('vin', describeVinProblem(result));
  }
  const model = readString(raw.model, 'model', bad);
  if (model !== undefined && model.trim() === '') bad('model', 'must not be empty');
  const productionDate = readString(raw.productionDate, 'productionDate', bad);
  if (productionDate !== undefined && !isCalendarDate(productionDate)) {
    bad('productionDate', `must be a date YYYY-MM-DD, is ${JSON.stringify(productionDate)}`);
  }
  let optionCodes: string[] = [];
  if (!Array.isArray(raw.optionCodes) || !raw.optionCodes.every((c) => typeof c === 'string')) {
    bad('optionCodes', `must be an array of strings, is ${typeName(raw.optionCodes)}`);
  } else {
    const parsed = parseOptionCodes(raw.optionCodes as string[]);
    if (parsed.ok) optionCodes = parsed.codes;
    else
      bad('optionCodes', `not option codes: ${parsed.badTokens.map((t) => `"${t}"`).join(', ')}`);
  }
  const moduleHardware = readModuleHardware(raw.moduleHardware, bad);
  let fuel: FuelType | undefined;
  if (raw.fuel !== undefined) {
    fuel = FUEL_TYPES.find((f) => f === raw.fuel);
    if (fuel === undefined) {
      bad('fuel', `must be one of ${FUEL_TYPES.join(', ')}, is ${JSON.stringify(raw.fuel)}`);
    }
  }

  if (!valid || market === undefined || model === undefined || productionDate === undefined) {
    return undefined;
  }
  return {
    vin,
    model,
    market,
    productionDate,
    optionCodes,
    ...(moduleHardware === undefined ? {} : { moduleHardware }),
    ...(fuel === undefined ? {} : { fuel }),
  };
}

function readModuleHardware(raw: unknown, bad: Fail): FleetModuleHardware | undefined {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) {
    bad('moduleHardware', `must be an object, is ${typeName(raw)}`);
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!MODULE_KEYS.has(key)) bad(`moduleHardware.${key}`, 'unknown property');
  }
  const revisionText = readString(raw.hardwareRevision, 'moduleHardware.hardwareRevision', bad);
  const hardwareRevision =
    revisionText === undefined ? undefined : parseHardwareRevision(revisionText);
  if (revisionText !== undefined && hardwareRevision === undefined) {
    bad('moduleHardware.hardwareRevision', `unknown revision ${JSON.stringify(revisionText)}`);
  }
  const serialText = readString(raw.moduleSerial, 'moduleHardware.moduleSerial', bad);
  const serial = serialText === undefined ? undefined : validateModuleSerial(serialText);
  if (serial !== undefined && !serial.ok) {
    bad('moduleHardware.moduleSerial', describeModuleSerialProblem(serial));
  }
  if (hardwareRevision === undefined || serialText === undefined) return undefined;
  const moduleSerial = canonicalModuleSerial(serialText);
  return moduleSerial === undefined ? undefined : { hardwareRevision, moduleSerial };
}

function readString(value: unknown, at: string, bad: Fail): string | undefined {
  if (typeof value === 'string') return value;
  bad(at, value === undefined ? 'is missing' : `must be a string, is ${typeName(value)}`);
  return undefined;
}

/** YYYY-MM-DD naming a real day (no 2023-02-30). */
function isCalendarDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  );
}
