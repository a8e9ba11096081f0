import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { HolderRole } from '../messages/gen/mini/trust/v1/formats_pb.js';
import {
  CloudEnvelopeSchema,
  LockState,
  ModuleEnvelopeSchema,
  TelemetrySchema,
  bodyBelongsOn,
  breaksLocationRule,
  positionAllowed,
} from './payloads.js';

const position = { latitudeE7: 481_351_250, longitudeE7: 115_819_980, accuracyM: 5 };
const telemetry = (withPosition: boolean) =>
  create(ModuleEnvelopeSchema, {
    body: {
      case: 'telemetry',
      value: { lockState: LockState.LOCKED, ...(withPosition ? { position } : {}) },
    },
  });

describe('location rule', () => {
  it('no position while a driver’s booking runs; allowed otherwise', () => {
    expect(positionAllowed(undefined)).toBe(true);
    expect(positionAllowed({ role: HolderRole.OWNER })).toBe(true);
    expect(positionAllowed({ role: HolderRole.DRIVER })).toBe(false);
    expect(positionAllowed({ role: HolderRole.VIP_DRIVER })).toBe(false);
  });

  it('flags a report that carries a position during a driver’s booking', () => {
    const driver = { role: HolderRole.DRIVER };
    expect(breaksLocationRule(telemetry(true), driver)).toBe(true);
    expect(breaksLocationRule(telemetry(false), driver)).toBe(false);
    expect(breaksLocationRule(telemetry(true), undefined)).toBe(false);
    expect(breaksLocationRule(telemetry(true), { role: HolderRole.OWNER })).toBe(false);
  });
});

describe('payloads', () => {
  it('each body belongs on one topic', () => {
    expect(bodyBelongsOn(telemetry(false), 'telemetry')).toBe(true);
    expect(bodyBelongsOn(telemetry(false), 'events')).toBe(false);
    const state = create(CloudEnvelopeSchema, { body: { case: 'bookingState', value: {} } });
    expect(bodyBelongsOn(state, 'booking')).toBe(true);
    expect(bodyBelongsOn(state, 'commands')).toBe(false);
    expect(bodyBelongsOn(create(CloudEnvelopeSchema), 'commands')).toBe(false);
  });

  it('telemetry round-trips, unset fields stay unset', () => {
    const arb = fc.record(
      {
        batteryMillivolts: fc.nat(20_000),
        fuelPercent: fc.nat(100),
        chargePercent: fc.nat(100),
        odometerKm: fc.nat(2_000_000),
        ignitionOn: fc.boolean(),
        position: fc.record({
          latitudeE7: fc.integer({ min: -900_000_000, max: 900_000_000 }),
          longitudeE7: fc.integer({ min: -1_800_000_000, max: 1_800_000_000 }),
          accuracyM: fc.nat(10_000),
        }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(arb, (fields) => {
        const message = create(TelemetrySchema, fields);
        const decoded = fromBinary(TelemetrySchema, toBinary(TelemetrySchema, message));
        expect(decoded).toEqual(message);
        expect(decoded.fuelPercent).toBe(fields.fuelPercent);
        expect(decoded.position === undefined).toBe(fields.position === undefined);
      }),
    );
  });
});
