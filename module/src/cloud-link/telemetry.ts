/**
 * The car's state as a Telemetry report: 12 V, fuel and charge level, odometer, lock state, open
 * doors, ignition and, only when the location rule allows it, the GNSS position. A reading the
 * HAL cannot give (a HalError) leaves its fields unset: the report still goes out.
 */
import { Door, LockState } from '@mini-sharing/shared-protocol/link';
import type {
  Door as HalDoor,
  GnssReceiver,
  SupplyMonitor,
  VehicleInterface,
} from '../hal/index.js';

/** The parts of the HAL the link reads (a ModuleHal fits). */
export interface TelemetrySources {
  vehicle: Pick<VehicleInterface, 'readState' | 'onEvent'>;
  gnss: GnssReceiver;
  supply: SupplyMonitor;
}

/** Telemetry fields as plain values (the `telemetry` body of a ModuleEnvelope). */
export interface TelemetryReport {
  batteryMillivolts?: number;
  fuelPercent?: number;
  chargePercent?: number;
  odometerKm?: number;
  lockState: LockState;
  openDoors: Door[];
  ignitionOn?: boolean;
  position?: {
    latitudeE7: number;
    longitudeE7: number;
    accuracyM: number;
    fixTimeMs: bigint;
  };
}

const DOOR: Record<HalDoor, Door> = {
  'front-left': Door.FRONT_LEFT,
  'front-right': Door.FRONT_RIGHT,
  'rear-left': Door.REAR_LEFT,
  'rear-right': Door.REAR_RIGHT,
  tailgate: Door.TAILGATE,
  bonnet: Door.BONNET,
};

const percent = (value: number | undefined): number | undefined =>
  value === undefined || !Number.isFinite(value)
    ? undefined
    : Math.min(100, Math.max(0, Math.round(value)));

/**
 * Reads the car. `withPosition` false: the GNSS is not even read. `onError` hears what could
 * not be read.
 */
export async function readTelemetry(
  hal: TelemetrySources,
  withPosition: boolean,
  onError: (what: string, error: unknown) => void,
): Promise<TelemetryReport> {
  const report: TelemetryReport = { lockState: LockState.UNSPECIFIED, openDoors: [] };
  const [state, millivolts, position] = await Promise.allSettled([
    hal.vehicle.readState(),
    hal.supply.readMillivolts(),
    withPosition ? hal.gnss.readPosition() : Promise.resolve(undefined),
  ]);
  if (state.status === 'fulfilled') {
    const car = state.value;
    report.lockState = car.locked ? LockState.LOCKED : LockState.UNLOCKED;
    report.openDoors = car.openDoors.map((door) => DOOR[door]);
    report.ignitionOn = car.ignition === 'on';
    report.odometerKm = Number.isFinite(car.odometerKm)
      ? Math.max(0, Math.floor(car.odometerKm))
      : undefined;
    report.fuelPercent = percent(car.fuelPercent);
    report.chargePercent = percent(car.chargePercent);
  } else {
    onError('vehicle state', state.reason);
  }
  if (millivolts.status === 'fulfilled' && Number.isFinite(millivolts.value)) {
    report.batteryMillivolts = Math.max(0, Math.round(millivolts.value));
  } else if (millivolts.status === 'rejected') {
    onError('supply voltage', millivolts.reason);
  }
  if (position.status === 'fulfilled' && position.value?.fix) {
    const fix = position.value;
    report.position = {
      latitudeE7: Math.round(fix.latitude * 1e7),
      longitudeE7: Math.round(fix.longitude * 1e7),
      accuracyM: Math.max(0, Math.round(fix.accuracyM)),
      fixTimeMs: BigInt(Math.max(0, Math.floor(fix.fixTimeMs))),
    };
  } else if (position.status === 'rejected') {
    onError('GNSS position', position.reason);
  }
  return report;
}
