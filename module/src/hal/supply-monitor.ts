/** The module's measurement of its 12 V supply (the car's battery). */
export interface SupplyMonitor {
  readMillivolts(): Promise<number>;
  /** Called with the new voltage when it changes; returns the function that unsubscribes. */
  onChange(listener: (millivolts: number) => void): () => void;
}

/** Flashing needs at least this (PROTOCOL.md, SUPPLY_VOLTAGE_LOW): connect the charger. */
export const FLASHING_MIN_MILLIVOLTS = 13_000;
