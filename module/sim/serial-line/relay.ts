import { performance } from 'node:perf_hooks';
import type { PtyEnd } from './pty-end.js';
import type { WireDirection } from './wire.js';

export type LineEnd = 'app' | 'module';
export type LineDirection = 'appToModule' | 'moduleToApp';
/** Each end's rate; undefined if nobody configured it yet (or the line is unplugged). */
export type BaudRates = Record<LineEnd, number | undefined>;

export const ENDS: readonly LineEnd[] = ['app', 'module'];
export const DIRECTION_FROM: Record<LineEnd, LineDirection> = {
  app: 'appToModule',
  module: 'moduleToApp',
};
const OTHER_END: Record<LineEnd, LineEnd> = { app: 'module', module: 'app' };

// Deliveries are batched: at most one timer run per this many ms while bytes flow.
const MIN_TICK_MS = 2;
// A receiving end that has not kept up for this long is not reading: what arrives is lost.
const OVERRUN_AFTER_MS = 200;
// Bytes on the wire per direction before the sender is held back, and when it is let go.
const HIGH_WATER_BYTES = 16 * 1024;
const LOW_WATER_BYTES = 4 * 1024;

interface ArrivedChunk {
  from: LineEnd;
  bytes: Buffer;
  at: number;
}

/**
 * The data path between the two ends: bytes that arrive from an opener go on the wire at the
 * rates read right then, and are handed to the other opener when the wire releases them, as
 * fast as it takes them.
 */
export class Relay {
  private readonly rates: BaudRates = { app: undefined, module: undefined };
  // Raised on every cut, so bytes read before it are not sent after it.
  private generationCount = 0;
  private arrived: ArrivedChunk[] = [];
  private pumping = false;
  private cancelDelivery: (() => void) | undefined;
  private deliveryAt = Infinity;
  private lastTickAt = -Infinity;
  private inputPaused: Record<LineEnd, boolean> = { app: false, module: false };

  constructor(
    readonly wires: Record<LineDirection, WireDirection>,
    /** The running ends, owned by the line; absent while unplugged. */
    private readonly ends: Partial<Record<LineEnd, PtyEnd>>,
    private readonly onRateChange: (end: LineEnd, baudRate: number | undefined) => void,
  ) {}

  /** Tags bytes read from ends started now; bytes with an older tag are lost. */
  get generation(): number {
    return this.generationCount;
  }

  get baudRates(): BaudRates {
    return { ...this.rates };
  }

  arrive(from: LineEnd, bytes: Buffer, generation: number): void {
    if (generation !== this.generationCount) {
      this.wires[DIRECTION_FROM[from]].recordLostBeforeSending(bytes.length);
      return;
    }
    this.arrived.push({ from, bytes, at: performance.now() });
    void this.pump();
  }

  /** The cable is cut: everything on its way is lost and nothing more is delivered. */
  cut(): void {
    this.generationCount++;
    for (const { from, bytes } of this.arrived.splice(0)) {
      this.wires[DIRECTION_FROM[from]].recordLostBeforeSending(bytes.length);
    }
    for (const wire of Object.values(this.wires)) wire.clear();
    this.cancelDelivery?.();
    this.cancelDelivery = undefined;
    this.deliveryAt = Infinity;
    this.inputPaused = { app: false, module: false };
  }

  async refreshRates(): Promise<void> {
    const generation = this.generationCount;
    const readings = await Promise.all(ENDS.map((end) => this.ends[end]?.readBaudRate()));
    if (generation !== this.generationCount) return; // cut meanwhile: the readings are stale
    for (const [index, end] of ENDS.entries()) this.setRate(end, readings[index]);
  }

  /** Unplugged: nothing is configured. */
  forgetRates(): void {
    for (const end of ENDS) this.setRate(end, undefined);
  }

  scheduleDelivery(): void {
    const dues = ENDS.flatMap((to) => {
      const due = this.wires[DIRECTION_FROM[OTHER_END[to]]].nextDueAt();
      if (due === undefined) return [];
      const blockedSince = this.ends[to]?.blockedSince;
      // A receiver that is behind is woken when it takes more, or given up on at overrun time.
      return blockedSince === undefined ? [due] : [Math.max(due, blockedSince + OVERRUN_AFTER_MS)];
    });
    if (dues.length === 0) return;
    // Bytes already due go out now; future ones are batched, one run per MIN_TICK_MS at most.
    const due = Math.min(...dues);
    const now = performance.now();
    const at = due <= now ? now : Math.max(due, this.lastTickAt + MIN_TICK_MS);
    if (this.cancelDelivery && this.deliveryAt <= at) return;
    this.cancelDelivery?.();
    this.deliveryAt = at;
    const delay = at - now;
    // A timer waits at least ~1 ms; setImmediate runs in this turn of the event loop.
    if (delay <= 0) {
      const immediate = setImmediate(() => this.deliver());
      this.cancelDelivery = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => this.deliver(), delay);
      this.cancelDelivery = () => clearTimeout(timer);
    }
  }

  // Rates are read after bytes arrive and before they go on the wire, so a sender that changes
  // its rate and then writes is judged at the new rate (a poll could be up to an interval old).
  // The other order cannot be told apart on a pty: a sender that writes and switches within
  // ~1 ms (serialport's drain returns at once on a pty) may be judged at the new rate; see
  // README.md. Chunks that arrive during a reading wait for the next one.
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.arrived.length > 0) {
        const generation = this.generationCount;
        const batch = this.arrived.splice(0);
        await this.refreshRates();
        for (const { from, bytes, at } of batch) {
          const direction = DIRECTION_FROM[from];
          if (generation !== this.generationCount) {
            this.wires[direction].recordLostBeforeSending(bytes.length);
            continue;
          }
          const [sender, receiver] = [this.rates[from], this.rates[OTHER_END[from]]];
          this.wires[direction].send(bytes, at, sender, receiver);
        }
        this.applyBackpressure();
        this.scheduleDelivery();
      }
    } finally {
      this.pumping = false;
    }
  }

  private setRate(end: LineEnd, baudRate: number | undefined): void {
    if (this.rates[end] === baudRate) return;
    this.rates[end] = baudRate;
    this.onRateChange(end, baudRate);
  }

  private deliver(): void {
    this.cancelDelivery = undefined;
    this.deliveryAt = Infinity;
    const now = performance.now();
    this.lastTickAt = now;
    for (const to of ENDS) {
      const end = this.ends[to];
      const blockedSince = end?.blockedSince;
      const overrun =
        !end || (blockedSince !== undefined && now - blockedSince >= OVERRUN_AFTER_MS);
      const wire = this.wires[DIRECTION_FROM[OTHER_END[to]]];
      // Behind but still reading: what does not fit waits on the wire (and the sender is held
      // back if that grows). Not reading for long: it is lost.
      const bytes = wire.take(now, overrun ? Infinity : end.room);
      if (bytes.length === 0) continue;
      if (!overrun) end.write(bytes);
      wire.recordDelivery(bytes.length, overrun);
    }
    this.applyBackpressure();
    this.scheduleDelivery();
  }

  private applyBackpressure(): void {
    for (const from of ENDS) {
      const queued = this.wires[DIRECTION_FROM[from]].queued;
      const paused = this.inputPaused[from];
      if (!paused && queued > HIGH_WATER_BYTES) this.setInputPaused(from, true);
      else if (paused && queued < LOW_WATER_BYTES) this.setInputPaused(from, false);
    }
  }

  private setInputPaused(end: LineEnd, paused: boolean): void {
    this.inputPaused[end] = paused;
    this.ends[end]?.setInputPaused(paused);
  }
}
