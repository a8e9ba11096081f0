/**
 * Turning what the order system sends into a registry entry. The rules are the fleet file's
 * (shared-protocol vehicle/): the VIN checked for its market (North American check digits), the
 * market a country code, a real calendar date, option codes normalised. One vehicle is read as a
 * one-car fleet, so the registry and the simulated fleet can never disagree about what is valid.
 */
import type { VehicleOrder, VehicleOrderInput } from '@mini-sharing/shared-protocol/api';
import {
  FLEET_FILE_VERSION,
  parseFleetFile,
  type FleetVehicle,
} from '@mini-sharing/shared-protocol/vehicle';

export interface OrderProblem {
  /** `vin`, `market`, `optionCodes`, … */
  field: string;
  message: string;
}

export type OrderInputCheck =
  { ok: true; order: VehicleOrder } | { ok: false; problems: OrderProblem[] };

export const vehicleOrderOf = (vehicle: FleetVehicle): VehicleOrder => ({
  vin: vehicle.vin,
  model: vehicle.model,
  market: vehicle.market,
  productionDate: vehicle.productionDate,
  optionCodes: vehicle.optionCodes,
});

export function readVehicleOrderInput(vin: string, input: VehicleOrderInput): OrderInputCheck {
  const parsed = parseFleetFile({ version: FLEET_FILE_VERSION, vehicles: [{ vin, ...input }] });
  if (!parsed.ok) {
    return {
      ok: false,
      problems: parsed.errors.map((error) => ({
        field: error.path.replace(/^vehicles\[0\]\.?/, ''),
        message: error.message,
      })),
    };
  }
  return { ok: true, order: vehicleOrderOf(parsed.fleet.vehicles[0]!) };
}
