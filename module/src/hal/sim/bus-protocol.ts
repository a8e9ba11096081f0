/**
 * The simulated vehicle bus: the wire between the firmware's sim drivers and module-sim's
 * simulated car (a Unix socket standing in for the 5GE interface, the GNSS receiver, the supply
 * monitor and the RTC). Newline-delimited JSON, one message per line:
 *
 * - firmware to car: `{"id":7,"method":"lock"}` (`params` only where a method takes some);
 * - car to firmware: `{"id":7,"result":{…}}` or `{"id":7,"error":{"code","message"}}`, where
 *   `id` is null when the line could not be read far enough to find one;
 * - car to firmware, unasked: `{"event":"doors","data":{"openDoors":["tailgate"]}}`.
 *
 * The firmware owns this contract (it is its driver's wire); module-sim's bus server imports it.
 * Both ends validate every message against the schemas below before acting on it.
 */
import { FUEL_TYPES } from '@mini-sharing/shared-protocol/vehicle';
import type { BleRadioCheck } from '../ble-radio.js';
import type { CellularRegistration } from '../cellular-modem.js';
import type { GnssReading } from '../gnss-receiver.js';
import type { VehicleIdentity, VehicleState } from '../vehicle-interface.js';
import { DOORS } from '../vehicle-interface.js';
import type { Infer, Schema } from './schema.js';
import {
  bool,
  list,
  nullable,
  num,
  oneOf,
  parseWith,
  plainObject,
  record,
  str,
  variants,
} from './schema.js';

export const BUS_PROTOCOL_VERSION = 1;
/** Longest line either end accepts, newline excluded; longer ones are dropped with an error. */
export const MAX_LINE_BYTES = 64 * 1024;
const MAX_ID = 0xffff_ffff;
/** 8.64e15 ms: the largest time a JavaScript Date holds. */
const MAX_TIME_MS = 8.64e15;

const door = oneOf(DOORS);
const doors = list(door, DOORS.length);
const timeMs = num({ min: 0, max: MAX_TIME_MS, integer: true });
const noParams = record({});

const vehicleIdentity: Schema<VehicleIdentity> = record({
  vin: str({ maxLength: 17, pattern: /^[A-HJ-NPR-Z0-9]{17}$/ }),
  model: str({ maxLength: 200 }),
  market: str({ maxLength: 2, pattern: /^[A-Z]{2}$/ }),
  productionDate: str({ maxLength: 10, pattern: /^\d{4}-\d{2}-\d{2}$/ }),
  optionCodes: list(str({ maxLength: 3, pattern: /^[0-9A-Z]{3}$/ }), 500),
  fuel: oneOf(FUEL_TYPES),
  doors,
});

const percent = num({ min: 0, max: 100 });
const vehicleState: Schema<VehicleState> = record(
  {
    locked: bool,
    openDoors: doors,
    ignition: oneOf(['off', 'on']),
    engineRunning: bool,
    immobilizerReleased: bool,
    speedKmh: num({ min: 0, max: 400 }),
    odometerKm: num({ min: 0, max: 10_000_000 }),
    keysInCabin: num({ min: 0, max: 2, integer: true }),
  },
  { fuelPercent: percent, chargePercent: percent },
);

const gnssReading: Schema<GnssReading> = variants(
  'fix',
  new Map<unknown, Schema<GnssReading>>([
    [
      true,
      record({
        fix: oneOf([true]),
        latitude: num({ min: -90, max: 90 }),
        longitude: num({ min: -180, max: 180 }),
        accuracyM: num({ min: 0, max: 100_000 }),
        fixTimeMs: timeMs,
      }),
    ],
    [false, record({ fix: oneOf([false]) })],
  ]),
);

const dbm = num({ min: -200, max: 30 });

const cellularRegistration: Schema<CellularRegistration> = variants(
  'registered',
  new Map<unknown, Schema<CellularRegistration>>([
    [
      true,
      record({
        registered: oneOf([true]),
        operator: str({ maxLength: 100 }),
        signalDbm: dbm,
      }),
    ],
    [false, record({ registered: oneOf([false]), signalDbm: nullable(dbm) })],
  ]),
);

const bleRadioCheck: Schema<BleRadioCheck> = variants(
  'started',
  new Map<unknown, Schema<BleRadioCheck>>([
    [true, record({ started: oneOf([true]), testerRssiDbm: nullable(dbm) })],
    [false, record({ started: oneOf([false]) })],
  ]),
);

const clockReading = record({
  nowMs: timeMs,
  /** Simulated milliseconds per real millisecond; 0 is a paused clock. */
  timeScale: num({ min: 0, max: 1_000_000 }),
  timeKnown: bool,
});
export type BusClockReading = Infer<typeof clockReading>;

const supplyReading = record({ millivolts: num({ min: 0, max: 30_000, integer: true }) });

/** Every method: what its params and its result must look like. */
export const BUS_METHODS = {
  /** Sent first on every connection; a different version gets `protocol-mismatch` (client). */
  hello: {
    params: record({ protocolVersion: num({ min: 0, max: MAX_ID, integer: true }) }),
    result: record({ protocolVersion: num({ min: 0, max: MAX_ID, integer: true }) }),
  },
  'identity.read': { params: noParams, result: vehicleIdentity },
  'state.read': { params: noParams, result: vehicleState },
  lock: { params: noParams, result: vehicleState },
  unlock: { params: noParams, result: vehicleState },
  'immobilizer.release': { params: noParams, result: vehicleState },
  'immobilizer.engage': { params: noParams, result: vehicleState },
  'gnss.read': { params: noParams, result: gnssReading },
  'supply.read': { params: noParams, result: supplyReading },
  'modem.registration': { params: noParams, result: cellularRegistration },
  'ble.self-check': { params: noParams, result: bleRadioCheck },
  'clock.read': { params: noParams, result: clockReading },
  'clock.set': { params: record({ nowMs: timeMs }), result: clockReading },
} as const satisfies Record<string, { params: Schema<object>; result: Schema<object> }>;

export type BusMethod = keyof typeof BUS_METHODS;
export type BusParams<M extends BusMethod> = Infer<(typeof BUS_METHODS)[M]['params']>;
export type BusResult<M extends BusMethod> = Infer<(typeof BUS_METHODS)[M]['result']>;
export type BusRequest = {
  [M in BusMethod]: { id: number; method: M; params: BusParams<M> };
}[BusMethod];

/** Every event the car pushes, and its data. */
export const BUS_EVENTS = {
  doors: record({ openDoors: doors }),
  lock: record({ locked: bool }),
  ignition: record({ ignition: oneOf(['off', 'on']), engineRunning: bool }),
  immobilizer: record({ released: bool }),
  speed: record({ speedKmh: num({ min: 0, max: 400 }) }),
  keys: record({ keysInCabin: num({ min: 0, max: 2, integer: true }) }),
  supply: supplyReading,
  clock: record({
    reason: oneOf(['jump', 'set', 'time-scale']),
    deltaMs: num({ min: -MAX_TIME_MS, max: MAX_TIME_MS, integer: true }),
    nowMs: timeMs,
    timeScale: num({ min: 0, max: 1_000_000 }),
    timeKnown: bool,
  }),
} as const satisfies Record<string, Schema<object>>;

export type BusEventName = keyof typeof BUS_EVENTS;
export type BusEventData<E extends BusEventName> = Infer<(typeof BUS_EVENTS)[E]>;
export type BusEvent = { [E in BusEventName]: { event: E; data: BusEventData<E> } }[BusEventName];

export const BUS_ERROR_CODES = [
  /** The line is not UTF-8 JSON. */
  'malformed-message',
  /** The line is longer than MAX_LINE_BYTES; it was dropped unread. */
  'line-too-long',
  /** Not `{id, method, params?}`. */
  'invalid-request',
  'unknown-method',
  'invalid-params',
  /** The car has no 5GE interface: every vehicle method fails with this. */
  'no-sharing-interface',
  /** Lock refused: something is open (`details.openDoors`). */
  'doors-open',
  /** The 12 V battery is disconnected. */
  'no-power',
  'internal',
] as const;
export type BusErrorCode = (typeof BUS_ERROR_CODES)[number];

const errorBody = record(
  { code: oneOf(BUS_ERROR_CODES), message: str({ maxLength: 2_000 }) },
  { details: record({}, { openDoors: doors }) },
);
export type BusErrorBody = Infer<typeof errorBody>;

const requestId = num({ min: 0, max: MAX_ID, integer: true });
// Params are checked per method once the method is known; here only that they are an object.
const requestEnvelope = record(
  { id: requestId, method: str({ maxLength: 100 }) },
  { params: plainObject },
);

function isMethod(name: string): name is BusMethod {
  return Object.hasOwn(BUS_METHODS, name);
}

export type RequestParse =
  { ok: true; request: BusRequest } | { ok: false; id: number | null; error: BusErrorBody };

/**
 * Reads a request the bus server received (already JSON-parsed). Never throws; the error names
 * the id when the line had a readable one, so the firmware can match it to its request.
 */
export function parseRequest(value: unknown): RequestParse {
  const envelope = parseWith(requestEnvelope, value);
  if (!envelope.ok) return fail(readableId(value), 'invalid-request', envelope.message);
  const { id, method, params } = envelope.value;
  if (!isMethod(method)) {
    return fail(id, 'unknown-method', `unknown method ${JSON.stringify(method)}`);
  }
  const checked = parseWith(BUS_METHODS[method].params, params ?? {}, 'params');
  if (!checked.ok) return fail(id, 'invalid-params', checked.message);
  return { ok: true, request: { id, method, params: checked.value } as BusRequest };
}

function readableId(value: unknown): number | null {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as Record<string, unknown>).id;
  return parseWith(requestId, id).ok ? (id as number) : null;
}

function fail(id: number | null, code: BusErrorCode, message: string): RequestParse {
  return { ok: false, id, error: { code, message } };
}

export type ServerMessage =
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number | null; error: BusErrorBody }
  | { kind: 'event'; event: BusEvent };

const resultEnvelope = record({ id: requestId, result: plainObject });
const errorEnvelope = record({ id: nullable(requestId), error: errorBody });
const eventEnvelope = record({ event: str({ maxLength: 100 }), data: plainObject });

/**
 * Reads a message the firmware received. A result is checked against its method's schema by
 * the caller (`parseResult`), which alone knows which method the id belongs to.
 */
export function parseServerMessage(
  value: unknown,
): { ok: true; message: ServerMessage } | { ok: false; message: string } {
  const has = (key: string) =>
    typeof value === 'object' && value !== null && Object.hasOwn(value, key);
  if (has('event')) {
    const envelope = parseWith(eventEnvelope, value);
    if (!envelope.ok) return envelope;
    const { event, data } = envelope.value;
    if (!Object.hasOwn(BUS_EVENTS, event)) {
      return { ok: false, message: `unknown event ${JSON.stringify(event)}` };
    }
    const name = event as BusEventName;
    const checked = parseWith(BUS_EVENTS[name] as Schema<object>, data, 'data');
    if (!checked.ok) return checked;
    return {
      ok: true,
      message: { kind: 'event', event: { event: name, data: checked.value } as BusEvent },
    };
  }
  if (has('error')) {
    const envelope = parseWith(errorEnvelope, value);
    return envelope.ok ? { ok: true, message: { kind: 'error', ...envelope.value } } : envelope;
  }
  const envelope = parseWith(resultEnvelope, value);
  return envelope.ok ? { ok: true, message: { kind: 'result', ...envelope.value } } : envelope;
}

export function parseResult<M extends BusMethod>(
  method: M,
  result: unknown,
): { ok: true; value: BusResult<M> } | { ok: false; message: string } {
  return parseWith(BUS_METHODS[method].result as Schema<BusResult<M>>, result, 'result');
}

/** One message as a line (JSON text and a newline). */
export function encodeLine(message: object): Buffer {
  return Buffer.from(`${JSON.stringify(message)}\n`, 'utf8');
}
