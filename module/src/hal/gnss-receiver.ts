/** The module's own GNSS receiver (WGS 84). Independent of the 5GE interface. */
export type GnssReading =
  | {
      fix: true;
      latitude: number;
      longitude: number;
      /** Horizontal accuracy, metres. */
      accuracyM: number;
      /** Satellite time of the fix, ms since the Unix epoch: a clock source after a 12 V loss. */
      fixTimeMs: number;
    }
  /** No satellites (in a workshop hall, in a garage). */
  | { fix: false };

export interface GnssReceiver {
  readPosition(): Promise<GnssReading>;
}
