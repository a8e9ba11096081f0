/**
 * Transfer speed over the last few seconds (the way balena-etcher's speedometer does it): an
 * average since the start would hide a line that just slowed down, an instant rate would jump.
 */
export const DEFAULT_SPEED_WINDOW_MS = 3000;

export class Speedometer {
  readonly #windowMs: number;
  #samples: Array<{ atMs: number; bytes: number }> = [];

  constructor(windowMs = DEFAULT_SPEED_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** Record the running byte count at a moment; counts should not decrease. */
  sample(atMs: number, bytes: number): void {
    this.#samples.push({ atMs, bytes });
    // keep one sample older than the window so the span always covers the whole window
    while (this.#samples.length > 2 && (this.#samples[1]?.atMs ?? atMs) <= atMs - this.#windowMs) {
      this.#samples.shift();
    }
  }

  /** Bytes per second over the window; 0 until two samples span some time. */
  get bytesPerSecond(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.atMs <= first.atMs) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.atMs - first.atMs);
  }
}
