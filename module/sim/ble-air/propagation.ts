/** Where a controller stands, in metres. */
export interface Position {
  x: number;
  y: number;
}

/** RSSI a receiver 1 m from a 0 dBm transmitter reads (the usual calibration value). */
export const RSSI_AT_1M_DBM = -59;
/** Free-space path loss exponent; indoors it is 2.5 to 4. */
export const PATH_LOSS_EXPONENT = 2;
/** Weakest signal a receiver decodes; below it a device is out of range (about 63 m here). */
export const SENSITIVITY_DBM = -95;
// Closer than this, RSSI stops growing (antennas are not points).
const NEAREST_M = 0.1;

/**
 * The log-distance path loss model: RSSI = RSSI(1 m) - 10 n log10(d). Good enough for
 * "nearer reads stronger" and for a range limit; no fading, no walls.
 */
export function rssiAtDistance(metres: number): number {
  const distance = Math.max(NEAREST_M, metres);
  return Math.round(RSSI_AT_1M_DBM - 10 * PATH_LOSS_EXPONENT * Math.log10(distance));
}

export function distance(a: Position, b: Position): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}
