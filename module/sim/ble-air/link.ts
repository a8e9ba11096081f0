import type { Clock, TimerHandle } from '@mini-sharing/shared-protocol/clock';
import type { DeviceAddress } from './address.js';
import type { HciController } from './controller.js';
import {
  INTERVAL_UNIT_MS,
  LE_SUBEVENT,
  LL_MAX_OCTETS,
  LL_MIN_OCTETS,
  pduAirtimeUs,
  STATUS,
  T_IFS_US,
  TIMEOUT_UNIT_MS,
} from './hci.js';

export interface LinkEnd {
  controller: HciController;
  handle: number;
  /** The address this end uses over the air (what the other host sees as its peer). */
  address: DeviceAddress;
}

export interface LinkParameters {
  intervalMs: number;
  latency: number;
  timeoutMs: number;
}

export interface LinkOptions {
  central: LinkEnd;
  /** Absent when the peripheral ignored the connect request (a refused connection). */
  peripheral: LinkEnd | undefined;
  parameters: LinkParameters;
  clock: Clock;
  /** Move data at once instead of at connection events. */
  zeroLatency: boolean;
  onClosed(link: Link): void;
}

interface Pdu {
  start: boolean;
  data: Uint8Array;
  /** Last PDU of a host ACL packet: its buffer is free once this one is sent. */
  completes: boolean;
}

type Direction = 'toPeripheral' | 'toCentral';

// CONNECT_IND to the first connection event: transmit window delay (1.25 ms) on LE 1M.
const FIRST_EVENT_DELAY_MS = 1.25;
// A connection procedure takes effect this many events after it is requested (the "instant").
const INSTANT_EVENTS = 6;

/** LE 1M time on air for a payload of `octets`, as the Data Length events report it. */
const timeForOctets = (octets: number) => (octets + 14) * 8;

/**
 * One LE connection between two controllers: data moves only at connection events, every
 * connection interval from the anchor; a packet too long for one LL PDU takes several; an event
 * carries as many PDU exchanges as fit in the interval. The sender gets Number Of Completed
 * Packets once a host packet is on the air.
 */
export class Link {
  readonly central: LinkEnd;
  readonly peripheral: LinkEnd | undefined;
  parameters: LinkParameters;
  state: 'connected' | 'lost' | 'closed' = 'connected';
  readonly stats = { events: 0, pdusToPeripheral: 0, pdusToCentral: 0 };
  private readonly clock: Clock;
  private anchor: number;
  private anchorCounter = 0;
  private lastCounter = -1;
  private timer: TimerHandle | undefined;
  private readonly queues: Record<Direction, Pdu[]> = { toPeripheral: [], toCentral: [] };
  private readonly octets: Record<Direction, number> = {
    toPeripheral: LL_MIN_OCTETS,
    toCentral: LL_MIN_OCTETS,
  };
  private terminate: { by: LinkEnd; reason: number } | undefined;
  private update: { instant: number; parameters: LinkParameters } | undefined;
  private dataLength: { by: LinkEnd; octets: number } | undefined;
  // Reason each end's host hears when a lost link times out (0x16 if it asked to disconnect).
  private readonly lossReasons = new Map<LinkEnd, number>();
  // Ends whose handle is gone already (controller reset, or told of the disconnection).
  private readonly released = new Set<LinkEnd>();

  constructor(private readonly options: LinkOptions) {
    this.central = options.central;
    this.peripheral = options.peripheral;
    this.parameters = options.parameters;
    this.clock = options.clock;
    this.anchor = this.clock.now() + FIRST_EVENT_DELAY_MS;
    if (!this.peripheral) this.failToEstablish();
  }

  get ends(): LinkEnd[] {
    return this.peripheral ? [this.central, this.peripheral] : [this.central];
  }

  /** The end on `controller`, unless that end has left (its controller was reset). */
  endOf(controller: HciController): LinkEnd | undefined {
    return this.ends.find((end) => end.controller === controller && !this.released.has(end));
  }

  peerOf(end: LinkEnd): LinkEnd | undefined {
    return end === this.central ? this.peripheral : this.central;
  }

  /** The connection event counter now (the last event that began). */
  get eventCounter(): number {
    if (this.options.zeroLatency) return Math.max(0, this.lastCounter);
    return this.counterAt(this.clock.now());
  }

  /**
   * LE Connection Complete to both hosts (the central's names `peer`, the address it asked
   * for; a refused connection tells only the central, which believes it connected).
   */
  announce(peer: DeviceAddress): void {
    const interval = Math.round(this.parameters.intervalMs / INTERVAL_UNIT_MS);
    const timeout = Math.round(this.parameters.timeoutMs / TIMEOUT_UNIT_MS);
    const complete = (end: LinkEnd, role: number, address: DeviceAddress) =>
      end.controller.emitLeEvent(LE_SUBEVENT.connectionComplete, [
        STATUS.success,
        ...u16(end.handle),
        role,
        address.type,
        ...address.bytes,
        ...u16(interval),
        ...u16(this.parameters.latency),
        ...u16(timeout),
        0x00, // central clock accuracy: 500 ppm
      ]);
    complete(this.central, 0x00, peer);
    if (this.peripheral) complete(this.peripheral, 0x01, this.central.address);
  }

  /** A host packet from `from`'s host, split into LL PDUs; false if it cannot be taken. */
  send(from: LinkEnd, start: boolean, data: Uint8Array): boolean {
    if (this.state === 'closed') return false;
    if (this.state === 'lost' || !this.peripheral) return true; // held until the link ends
    const direction = from === this.central ? 'toPeripheral' : 'toCentral';
    const size = this.octets[direction];
    const queue = this.queues[direction];
    for (let offset = 0; offset < data.length || offset === 0; offset += size) {
      const piece = data.subarray(offset, offset + size);
      const last = offset + size >= data.length;
      queue.push({ start: start && offset === 0, data: piece, completes: last });
      if (data.length === 0) break;
    }
    this.schedule();
    return true;
  }

  /** HCI Disconnect from `by`'s host: LL_TERMINATE_IND goes at the next event. */
  requestDisconnect(by: LinkEnd, reason: number): void {
    if (this.state === 'lost') this.lossReasons.set(by, STATUS.localHostTerminated);
    if (this.state !== 'connected' || this.terminate) return;
    this.terminate = { by, reason };
    this.schedule();
  }

  /** LE Connection Update from the central: new parameters from the instant on. */
  requestUpdate(parameters: LinkParameters): void {
    if (this.state !== 'connected') return;
    this.update = {
      instant: Math.max(this.lastCounter, this.eventCounter) + INSTANT_EVENTS,
      parameters,
    };
    this.schedule();
  }

  /** LE Set Data Length from `by`'s host: the Data Length Update procedure at the next event. */
  requestDataLength(by: LinkEnd, octets: number): void {
    if (this.state !== 'connected') return;
    this.dataLength = { by, octets: Math.min(octets, LL_MAX_OCTETS) };
    this.schedule();
  }

  /**
   * The radio link is gone (out of range, interference, the peer's controller reset): nothing
   * more moves, and each host still present hears Connection Timeout once the supervision
   * timeout has passed. `silent` ends (a controller that was reset) are released at once.
   */
  lose(silent?: HciController): void {
    if (this.state === 'closed') return;
    for (const end of this.ends) {
      if (end.controller === silent) this.release(end);
    }
    if (this.state === 'lost') return;
    this.state = 'lost';
    this.stopEvents();
    this.clock.setTimeout(() => this.close(STATUS.connectionTimeout), this.parameters.timeoutMs);
  }

  private failToEstablish(): void {
    // The peripheral never answers: after six intervals the central gives up (Vol 6 Part B
    // 4.5.2) and reports Connection Failed to be Established.
    this.state = 'lost';
    const wait = this.options.zeroLatency ? 0 : INSTANT_EVENTS * this.parameters.intervalMs;
    this.clock.setTimeout(() => this.close(STATUS.failedToEstablish), wait);
  }

  private release(end: LinkEnd): void {
    if (this.released.has(end)) return;
    this.released.add(end);
    end.controller.releaseHandle(end.handle);
  }

  private close(reason: number): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopEvents();
    for (const end of this.ends) {
      if (this.released.has(end)) continue;
      this.released.add(end);
      end.controller.disconnectionComplete(end.handle, this.lossReasons.get(end) ?? reason);
    }
    this.options.onClosed(this);
  }

  private counterAt(time: number): number {
    return this.anchorCounter + Math.floor((time - this.anchor) / this.parameters.intervalMs);
  }

  private hasWork(): boolean {
    const { toPeripheral, toCentral } = this.queues;
    return (
      toPeripheral.length + toCentral.length > 0 ||
      this.terminate !== undefined ||
      this.update !== undefined ||
      this.dataLength !== undefined
    );
  }

  private schedule(): void {
    if (this.state !== 'connected' || this.timer !== undefined || !this.hasWork()) return;
    const now = this.clock.now();
    let counter: number;
    let time: number;
    if (this.options.zeroLatency) {
      [counter, time] = [this.lastCounter + 1, now];
    } else {
      counter = Math.max(this.counterAt(now) + 1, this.lastCounter + 1);
      time = this.anchor + (counter - this.anchorCounter) * this.parameters.intervalMs;
    }
    this.timer = this.clock.setTimeout(() => this.runEvent(counter, time), time - now);
  }

  private stopEvents(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.queues.toPeripheral = [];
    this.queues.toCentral = [];
  }

  private runEvent(counter: number, time: number): void {
    this.timer = undefined;
    if (this.state !== 'connected' || !this.peripheral) return;
    this.lastCounter = counter;
    this.stats.events++;
    if (this.update && counter >= this.update.instant) this.applyUpdate(counter, time);
    this.exchange(this.peripheral);
    if (this.terminate) {
      const { by, reason } = this.terminate;
      this.lossReasons.set(by, STATUS.localHostTerminated);
      this.lossReasons.set(this.peerOf(by)!, reason);
      this.close(reason);
      return;
    }
    if (this.dataLength) this.applyDataLength(this.dataLength.by, this.dataLength.octets);
    this.schedule();
  }

  private exchange(peripheral: LinkEnd): void {
    const budgetUs = this.options.zeroLatency
      ? Infinity
      : this.parameters.intervalMs * 1000 - T_IFS_US;
    const completed = { toPeripheral: 0, toCentral: 0 };
    let usedUs = 0;
    for (let exchanges = 0; ; exchanges++) {
      const down = this.queues.toPeripheral[0];
      const up = this.queues.toCentral[0];
      if (!down && !up) break;
      const costUs =
        pduAirtimeUs(down?.data.length ?? 0) + pduAirtimeUs(up?.data.length ?? 0) + 2 * T_IFS_US;
      if (exchanges > 0 && usedUs + costUs > budgetUs) break;
      usedUs += costUs;
      if (down) {
        this.queues.toPeripheral.shift();
        this.stats.pdusToPeripheral++;
        if (down.completes) completed.toPeripheral++;
        peripheral.controller.deliverAcl(peripheral.handle, down.start, down.data);
      }
      if (up) {
        this.queues.toCentral.shift();
        this.stats.pdusToCentral++;
        if (up.completes) completed.toCentral++;
        this.central.controller.deliverAcl(this.central.handle, up.start, up.data);
      }
    }
    this.central.controller.completedPackets(
      new Map([[this.central.handle, completed.toPeripheral]]),
    );
    peripheral.controller.completedPackets(new Map([[peripheral.handle, completed.toCentral]]));
  }

  private applyUpdate(counter: number, time: number): void {
    const { parameters } = this.update!;
    this.update = undefined;
    const old = this.parameters;
    this.parameters = parameters;
    this.anchor = time;
    this.anchorCounter = counter;
    const changed =
      old.intervalMs !== parameters.intervalMs ||
      old.latency !== parameters.latency ||
      old.timeoutMs !== parameters.timeoutMs;
    const interval = Math.round(parameters.intervalMs / INTERVAL_UNIT_MS);
    const timeout = Math.round(parameters.timeoutMs / TIMEOUT_UNIT_MS);
    for (const end of this.ends) {
      // The peripheral's host hears of it only if something changed (Vol 4 Part E 7.7.65.3).
      if (end !== this.central && !changed) continue;
      end.controller.emitLeEvent(LE_SUBEVENT.connectionUpdateComplete, [
        STATUS.success,
        ...u16(end.handle),
        ...u16(interval),
        ...u16(parameters.latency),
        ...u16(timeout),
      ]);
    }
  }

  private applyDataLength(by: LinkEnd, octets: number): void {
    this.dataLength = undefined;
    const direction = by === this.central ? 'toPeripheral' : 'toCentral';
    if (this.octets[direction] === octets) return;
    this.octets[direction] = octets;
    for (const end of this.ends) {
      const tx = this.octets[end === this.central ? 'toPeripheral' : 'toCentral'];
      const rx = this.octets[end === this.central ? 'toCentral' : 'toPeripheral'];
      end.controller.emitLeEvent(LE_SUBEVENT.dataLengthChange, [
        ...u16(end.handle),
        ...u16(tx),
        ...u16(timeForOctets(tx)),
        ...u16(rx),
        ...u16(timeForOctets(rx)),
      ]);
    }
  }
}

function u16(value: number): number[] {
  return [value & 0xff, (value >> 8) & 0xff];
}
