import type { Random } from '../serial-line/prng.js';
import type { HciController } from './controller.js';
import type { Position } from './propagation.js';
import { distance, rssiAtDistance, SENSITIVITY_DBM } from './propagation.js';

const ADV_UNIT_MS = 0.625;

/**
 * Who hears whom: positions (RSSI by distance, range), controllers taken out of range,
 * controllers whose link layer refuses connections, and interference on advertising.
 * All chance comes from the seeded `random`, so a seed replays the same faults.
 */
export class RadioConditions {
  /** Chance that an advertising PDU (or connect request) a listener would hear is lost. */
  advertisingLossRate = 0;
  private readonly positions = new Map<HciController, Position>();
  private readonly shielded = new Set<HciController>();
  private readonly refusing = new Set<HciController>();

  constructor(readonly random: Random) {}

  place(controller: HciController, position: Position): void {
    this.positions.set(controller, { ...position });
  }

  position(controller: HciController): Position {
    return { ...(this.positions.get(controller) ?? { x: 0, y: 0 }) };
  }

  setShielded(controller: HciController, shielded: boolean): void {
    if (shielded) this.shielded.add(controller);
    else this.shielded.delete(controller);
  }

  setRefusing(controller: HciController, refusing: boolean): void {
    if (refusing) this.refusing.add(controller);
    else this.refusing.delete(controller);
  }

  refuses(controller: HciController): boolean {
    return this.refusing.has(controller);
  }

  /** RSSI `receiver` reads from `sender`, or undefined if it cannot hear it. */
  rssi(receiver: HciController, sender: HciController): number | undefined {
    if (this.shielded.has(receiver) || this.shielded.has(sender)) return undefined;
    const rssi = rssiAtDistance(distance(this.position(receiver), this.position(sender)));
    return rssi >= SENSITIVITY_DBM ? rssi : undefined;
  }

  /**
   * Whether `listener` receives an advertising PDU from `sender`: in range, inside its scan
   * window (`sinceScanStart` air ms into a scan of `interval`/`window` 0.625 ms units), and
   * not lost to interference.
   */
  hears(
    listener: HciController,
    sender: HciController,
    sinceScanStart: number,
    interval: number,
    window: number,
  ): boolean {
    if (this.rssi(listener, sender) === undefined) return false;
    const phase = sinceScanStart % (interval * ADV_UNIT_MS);
    if (window < interval && phase >= window * ADV_UNIT_MS) return false;
    return !this.lost(listener);
  }

  /** Whether interference takes the PDU `listener` was about to receive. */
  lost(listener: HciController): boolean {
    if (this.advertisingLossRate === 0 || this.random() >= this.advertisingLossRate) return false;
    listener.stats.advertisingLost++;
    return true;
  }
}
