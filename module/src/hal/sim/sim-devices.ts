/**
 * The vehicle interface, GNSS receiver, cellular modem, Bluetooth radio and supply monitor over
 * the simulated vehicle bus.
 */
import type { BleRadio, BleRadioCheck } from '../ble-radio.js';
import type { CellularModem, CellularRegistration } from '../cellular-modem.js';
import type { GnssReading, GnssReceiver } from '../gnss-receiver.js';
import type { SupplyMonitor } from '../supply-monitor.js';
import type {
  VehicleEvent,
  VehicleIdentity,
  VehicleInterface,
  VehicleState,
} from '../vehicle-interface.js';
import type { BusClient } from './bus-client.js';
import type { BusEvent } from './bus-protocol.js';

export class SimVehicleInterface implements VehicleInterface {
  constructor(private readonly bus: BusClient) {}

  readIdentity(): Promise<VehicleIdentity> {
    return this.bus.request('identity.read', {});
  }

  readState(): Promise<VehicleState> {
    return this.bus.request('state.read', {});
  }

  lock(): Promise<VehicleState> {
    return this.bus.request('lock', {});
  }

  unlock(): Promise<VehicleState> {
    return this.bus.request('unlock', {});
  }

  releaseImmobilizer(): Promise<VehicleState> {
    return this.bus.request('immobilizer.release', {});
  }

  engageImmobilizer(): Promise<VehicleState> {
    return this.bus.request('immobilizer.engage', {});
  }

  onEvent(listener: (event: VehicleEvent) => void): () => void {
    return this.bus.onEvent((event) => {
      const vehicleEvent = toVehicleEvent(event);
      if (vehicleEvent !== undefined) listener(vehicleEvent);
    });
  }
}

function toVehicleEvent(message: BusEvent): VehicleEvent | undefined {
  switch (message.event) {
    case 'doors':
      return { type: 'doors', openDoors: message.data.openDoors };
    case 'lock':
      return { type: 'lock', locked: message.data.locked };
    case 'ignition':
      return { type: 'ignition', ...message.data };
    case 'immobilizer':
      return { type: 'immobilizer', released: message.data.released };
    case 'speed':
      return { type: 'speed', speedKmh: message.data.speedKmh };
    case 'keys':
      return { type: 'keys', keysInCabin: message.data.keysInCabin };
    case 'supply':
    case 'clock':
      return undefined; // the supply monitor's and the RTC's, not the car's
  }
}

export class SimGnssReceiver implements GnssReceiver {
  constructor(private readonly bus: BusClient) {}

  readPosition(): Promise<GnssReading> {
    return this.bus.request('gnss.read', {});
  }
}

export class SimCellularModem implements CellularModem {
  constructor(private readonly bus: BusClient) {}

  readRegistration(): Promise<CellularRegistration> {
    return this.bus.request('modem.registration', {});
  }
}

export class SimBleRadio implements BleRadio {
  constructor(private readonly bus: BusClient) {}

  selfCheck(): Promise<BleRadioCheck> {
    return this.bus.request('ble.self-check', {});
  }
}

export class SimSupplyMonitor implements SupplyMonitor {
  constructor(private readonly bus: BusClient) {}

  async readMillivolts(): Promise<number> {
    return (await this.bus.request('supply.read', {})).millivolts;
  }

  onChange(listener: (millivolts: number) => void): () => void {
    return this.bus.onEvent((event) => {
      if (event.event === 'supply') listener(event.data.millivolts);
    });
  }
}
