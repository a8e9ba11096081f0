import type { FleetVehicle } from '@mini-sharing/shared-protocol/vehicle';
import type { SimClockOptions } from './sim-clock.js';
import { SimClock } from './sim-clock.js';
import { SimulatedVehicle } from './simulated-vehicle.js';
import { VehicleBusServer } from './vehicle-bus-server.js';
import type { VehicleStartState } from './vehicle-types.js';

export interface SimulatedCarOptions {
  /** An entry of a fleet file read with shared-protocol's parseFleetFile. */
  fleetVehicle: FleetVehicle;
  /** Where the module's vehicle bus listens (one socket per module). */
  socketPath: string;
  /** A clock to share with other cars, or options for a clock of this car's own. */
  clock?: SimClock | SimClockOptions;
  start?: VehicleStartState;
}

export interface SimulatedCar {
  vehicle: SimulatedVehicle;
  clock: SimClock;
  bus: VehicleBusServer;
  socketPath: string;
  /** Stops the bus (removing its socket) and the car's timers; closes the clock if it owns it. */
  close(): Promise<void>;
}

/** A car from the fleet file and the vehicle bus its module's firmware connects to. */
export async function startSimulatedCar(options: SimulatedCarOptions): Promise<SimulatedCar> {
  const ownsClock = !(options.clock instanceof SimClock);
  const clock = options.clock instanceof SimClock ? options.clock : new SimClock(options.clock);
  const vehicle = new SimulatedVehicle(clock, {
    fleetVehicle: options.fleetVehicle,
    ...(options.start === undefined ? {} : { start: options.start }),
  });
  let bus: VehicleBusServer;
  try {
    bus = await VehicleBusServer.listen({ path: options.socketPath, vehicle, clock });
  } catch (error) {
    if (ownsClock) clock.close();
    throw error;
  }
  return {
    vehicle,
    clock,
    bus,
    socketPath: options.socketPath,
    close: async () => {
      await bus.close();
      vehicle.dispose();
      if (ownsClock) clock.close();
    },
  };
}
