import { seededRandom, type Random } from './prng.js';
import { resampleUart } from './uart-sampling.js';

/** What happened to the bytes going one way. */
export interface DirectionStats {
  /** Bytes the sender wrote that reached the relay. */
  sent: number;
  /** Bytes handed to the receiving end. */
  delivered: number;
  /** Bytes sent while the two ends were set to different rates (they arrive garbled). */
  garbled: number;
  /** Bits flipped by the bit error rate. */
  flippedBits: number;
  /** Delivered bytes with at least one flipped bit. */
  corruptedBytes: number;
  /** Bytes removed by the drop rate. */
  dropped: number;
  /** Bytes on the wire when it was unplugged, or due during a stall that loses data. */
  lost: number;
  /** Bytes discarded because nobody was reading the receiving end and its buffers were full. */
  overrun: number;
  /** Bytes sent faster than the line's `maxBaudRate` (they arrive as noise). */
  overRate: number;
}

export interface WireFaults {
  /** Probability that each data bit is flipped. */
  bitErrorRate: number;
  /** Probability that each byte is dropped. */
  dropRate: number;
  /**
   * The fastest rate the line carries (a long or poor cable, a weak driver): bytes sent at a
   * higher rate arrive as noise, every bit a coin toss. Infinity: no limit.
   */
  maxBaudRate: number;
}

// Bytes of one chunk on the wire; byte i arrives at start + (i + 1) * byteMs.
interface Segment {
  bytes: Uint8Array;
  start: number;
  byteMs: number;
  taken: number;
}

const EMPTY = new Uint8Array(0);

/**
 * One direction of the line, as a pure model driven by explicit times (ms) so it can be tested
 * without ptys or real timers. The relay calls `send` when bytes reach it and `take` when its
 * timer fires.
 *
 * Rate mismatch is applied when bytes are sent (it depends on both ends' settings at that
 * moment); noise (bit errors, drops) and stalls when they are taken, so a fault set while
 * traffic flows hits the bytes still on the wire.
 */
export class WireDirection {
  readonly stats: DirectionStats = {
    sent: 0,
    delivered: 0,
    garbled: 0,
    flippedBits: 0,
    corruptedBytes: 0,
    dropped: 0,
    lost: 0,
    overrun: 0,
    overRate: 0,
  };
  private segments: Segment[] = [];
  private wireFreeAt = -Infinity;
  private stallUntil = -Infinity;
  private stallLoses = false;
  private faults: WireFaults = { bitErrorRate: 0, dropRate: 0, maxBaudRate: Infinity };
  private bitsBeforeNextFlip = Infinity;

  constructor(
    private readonly random: Random,
    /** Wire time per byte is 10 bits at the sender's rate, times this. */
    private readonly timeScale: number,
    /**
     * Noise for bytes sent over `maxBaudRate`: its own stream, drawn when bytes are sent, so the
     * bit errors and drops (drawn when bytes are taken) stay the same for the same seed.
     */
    private readonly overRateRandom: Random = seededRandom(0x6f766572),
  ) {}

  /**
   * Puts bytes on the wire at `now`. An undefined rate means that end was never configured;
   * then the other end's rate sets the pace, and with neither the bytes pass at once. Bytes sent
   * faster than `maxBaudRate` become noise here, since that depends on the rate they were sent at.
   */
  send(bytes: Uint8Array, now: number, senderBaud?: number, receiverBaud?: number): void {
    if (bytes.length === 0) return;
    this.stats.sent += bytes.length;
    let received = bytes;
    if (senderBaud !== undefined && receiverBaud !== undefined && senderBaud !== receiverBaud) {
      this.stats.garbled += bytes.length;
      received = resampleUart(bytes, senderBaud, receiverBaud);
    }
    const lineBaud = senderBaud ?? receiverBaud;
    if (lineBaud !== undefined && lineBaud > this.faults.maxBaudRate && received.length > 0) {
      this.stats.overRate += bytes.length;
      received = received.map(() => Math.floor(this.overRateRandom() * 256));
    }
    const durationMs = lineBaud ? (bytes.length * 10 * 1000 * this.timeScale) / lineBaud : 0;
    const start = Math.max(now, this.wireFreeAt);
    this.wireFreeAt = start + durationMs;
    if (received.length === 0) return;
    this.segments.push({ bytes: received, start, byteMs: durationMs / received.length, taken: 0 });
  }

  /**
   * The bytes that have arrived by `now` (at most `maxBytes` of them, the rest wait), after
   * noise; empty while stalled.
   */
  take(now: number, maxBytes = Infinity): Uint8Array {
    if (this.stallLoses) {
      this.stats.lost += this.collectDue(Math.min(now, this.stallUntil)).length;
      if (now >= this.stallUntil) this.stallLoses = false;
    }
    if (now < this.stallUntil) return EMPTY;
    return this.applyNoise(this.collectDue(now, maxBytes));
  }

  /** When the next byte can be taken, or undefined if the wire is empty. */
  nextDueAt(): number | undefined {
    const first = this.segments[0];
    if (!first) return undefined;
    return Math.max(first.start + (first.taken + 1) * first.byteMs, this.stallUntil);
  }

  /** Bytes on the wire not yet taken. */
  get queued(): number {
    let count = 0;
    for (const segment of this.segments) count += segment.bytes.length - segment.taken;
    return count;
  }

  setFaults(faults: Partial<WireFaults>): void {
    this.faults = {
      bitErrorRate: faults.bitErrorRate ?? this.faults.bitErrorRate,
      dropRate: faults.dropRate ?? this.faults.dropRate,
      maxBaudRate: faults.maxBaudRate ?? this.faults.maxBaudRate,
    };
    this.bitsBeforeNextFlip = this.drawFlipGap();
  }

  /** Nothing arrives before `until`; what falls due meanwhile is held, or lost if `lose`. */
  stall(until: number, lose: boolean): void {
    this.stallUntil = Math.max(this.stallUntil, until);
    this.stallLoses = this.stallLoses || lose;
  }

  /** The wire is cut: everything on it is lost. */
  clear(): void {
    this.stats.lost += this.queued;
    this.segments = [];
    this.wireFreeAt = -Infinity;
    this.stallUntil = -Infinity;
    this.stallLoses = false;
  }

  /** Bytes that reached the relay but never made it onto the wire (e.g. unplugged meanwhile). */
  recordLostBeforeSending(count: number): void {
    this.stats.sent += count;
    this.stats.lost += count;
  }

  recordDelivery(count: number, overrun: boolean): void {
    if (overrun) this.stats.overrun += count;
    else this.stats.delivered += count;
  }

  private collectDue(limit: number, maxBytes = Infinity): Uint8Array {
    const parts: Uint8Array[] = [];
    let room = maxBytes;
    while (this.segments.length > 0 && room > 0) {
      const segment = this.segments[0]!;
      const length = segment.bytes.length;
      const arrived =
        segment.byteMs === 0
          ? length
          : Math.min(length, Math.floor((limit - segment.start) / segment.byteMs + 1e-9));
      const due = Math.min(arrived, segment.taken + room);
      if (due > segment.taken) {
        parts.push(segment.bytes.subarray(segment.taken, due));
        room -= due - segment.taken;
        segment.taken = due;
      }
      if (segment.taken < length) break;
      this.segments.shift();
    }
    if (parts.length === 0) return EMPTY;
    if (parts.length === 1) return parts[0]!;
    return Buffer.concat(parts);
  }

  private applyNoise(bytes: Uint8Array): Uint8Array {
    const { dropRate, bitErrorRate } = this.faults;
    if (bytes.length === 0 || (dropRate === 0 && bitErrorRate === 0)) return bytes;
    const out = new Uint8Array(bytes.length);
    let count = 0;
    for (const byte of bytes) {
      if (dropRate > 0 && this.random() < dropRate) {
        this.stats.dropped++;
        continue;
      }
      out[count++] = bitErrorRate > 0 ? this.flipBits(byte) : byte;
    }
    return out.subarray(0, count);
  }

  // Geometric gaps between flips instead of one draw per bit: same distribution, far fewer
  // draws at realistic rates, and the flips depend only on the byte sequence, not on how the
  // timer happened to batch it.
  private flipBits(byte: number): number {
    let value = byte;
    let bit = 0;
    let flipped = false;
    while (bit + this.bitsBeforeNextFlip < 8) {
      bit += this.bitsBeforeNextFlip;
      value ^= 1 << bit;
      this.stats.flippedBits++;
      flipped = true;
      bit++;
      this.bitsBeforeNextFlip = this.drawFlipGap();
    }
    this.bitsBeforeNextFlip -= 8 - bit;
    if (flipped) this.stats.corruptedBytes++;
    return value;
  }

  private drawFlipGap(): number {
    const p = this.faults.bitErrorRate;
    if (p <= 0) return Infinity;
    if (p >= 1) return 0;
    return Math.floor(Math.log(1 - this.random()) / Math.log(1 - p));
  }
}
