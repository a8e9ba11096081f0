/**
 * The module's cellular modem (LTE-M on HW-B and HW-C): whether it is registered with a mobile
 * network, with which operator, at what signal strength. The module link (MQTT) runs over it;
 * keys work without it.
 */
export type CellularRegistration =
  | {
      registered: true;
      /** The network's name as the modem reports it, e.g. "Telekom.de". */
      operator: string;
      /** Received signal strength (RSSI), dBm. */
      signalDbm: number;
    }
  /**
   * Not registered: no network heard at all (`signalDbm` null: a basement garage), or one too
   * weak to register with.
   */
  | { registered: false; signalDbm: number | null };

export interface CellularModem {
  readRegistration(): Promise<CellularRegistration>;
}
