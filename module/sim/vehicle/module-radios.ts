/**
 * The module's own radios as the simulated world lets them work: the modem registers with the
 * network the car stands in (`SimulatedVehicle.setCellularSignal`), and the Bluetooth radio
 * hears the workshop tester next to the car (`setBleTester`) unless the radio itself is broken
 * (`setBleRadioWorking(false)`: a fault of the module, not of the car).
 */
import type { BleRadioCheck } from '../../src/hal/ble-radio.js';
import type { CellularRegistration } from '../../src/hal/cellular-modem.js';
import type { SimulatedVehicle } from './simulated-vehicle.js';

/** Below this a modem hears the network but cannot register with it. */
const REGISTRATION_MIN_DBM = -120;

/** The network a module of each market's cars registers with. */
const OPERATOR_BY_MARKET: Readonly<Record<string, string>> = {
  DE: 'Telekom.de',
  AT: 'A1',
  NL: 'KPN',
  FR: 'Orange F',
  IT: 'TIM',
  ES: 'Movistar',
  CH: 'Swisscom',
  GB: 'EE',
  US: 'AT&T',
};

export class ModuleRadios {
  #bleRadioWorks = true;

  constructor(private readonly vehicle: SimulatedVehicle) {}

  get bleRadioWorks(): boolean {
    return this.#bleRadioWorks;
  }

  /** False: the module's Bluetooth controller does not come up (a hardware fault). */
  setBleRadioWorking(works: boolean): void {
    this.#bleRadioWorks = works;
  }

  cellularRegistration(): CellularRegistration {
    const signalDbm = this.vehicle.cellularSignalDbm;
    if (signalDbm === null || signalDbm < REGISTRATION_MIN_DBM) {
      return { registered: false, signalDbm };
    }
    const operator = OPERATOR_BY_MARKET[this.vehicle.identity.market] ?? 'Telekom.de';
    return { registered: true, operator, signalDbm };
  }

  bleSelfCheck(): BleRadioCheck {
    if (!this.#bleRadioWorks) return { started: false };
    return { started: true, testerRssiDbm: this.vehicle.bleTesterRssiDbm };
  }
}
