/**
 * The module's Bluetooth LE radio, as far as its self-test needs it: the radio starts, advertises,
 * and hears the workshop's Bluetooth tester. The key service itself (GATT, bleno) is a later part;
 * this interface is only the radio's health check.
 */
export type BleRadioCheck =
  /** The radio does not come up (controller does not answer, antenna fault). */
  | { started: false }
  | {
      started: true;
      /** The workshop tester's signal at the module, dBm; null when no tester was heard. */
      testerRssiDbm: number | null;
    };

export interface BleRadio {
  /** Starts advertising and listens for the workshop tester; the radio is idle again after. */
  selfCheck(): Promise<BleRadioCheck>;
}
