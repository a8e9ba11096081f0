import type { DeviceAddress } from './address.js';
import { runCommand } from './commands.js';
import type { ControllerPacket, HostPacket } from './h4.js';
import { encodeAcl, encodeEvent } from './h4.js';
import {
  DEFAULT_EVENT_MASK,
  DEFAULT_LE_EVENT_MASK,
  EVENT,
  EVENT_MASK_BIT,
  LE_SUBEVENT,
  LL_MIN_OCTETS,
  LL_MIN_TIME_US,
  PB,
} from './hci.js';

/** What the controller asks of the air (implemented by Air). */
export interface Radio {
  advertisingChanged(controller: HciController): void;
  scanningChanged(controller: HciController): void;
  /** Returns an HCI status for the Command Status event. */
  createConnection(controller: HciController, request: ConnectionRequest): number;
  /** True if a pending Create Connection was cancelled. */
  cancelConnection(controller: HciController): boolean;
  disconnect(controller: HciController, handle: number, reason: number): number;
  sendAcl(controller: HciController, handle: number, start: boolean, data: Uint8Array): boolean;
  updateConnection(controller: HciController, handle: number, request: ParameterRange): number;
  setDataLength(controller: HciController, handle: number, octets: number, timeUs: number): number;
  readRssi(controller: HciController, handle: number): number | undefined;
  /** The controller was reset: it leaves its links without telling its host. */
  controllerReset(controller: HciController): void;
}

export interface ParameterRange {
  /** Connection interval range, in 1.25 ms units. */
  intervalMin: number;
  intervalMax: number;
  latency: number;
  /** Supervision timeout, in 10 ms units. */
  timeout: number;
}

export interface ConnectionRequest extends ParameterRange {
  peer: DeviceAddress;
  ownAddressType: number;
  scanInterval: number;
  scanWindow: number;
}

export interface AdvertisingState {
  enabled: boolean;
  /** Advertising interval, in 0.625 ms units. */
  intervalMin: number;
  type: number;
  ownAddressType: number;
  directAddress: DeviceAddress | undefined;
  data: Uint8Array;
  scanResponse: Uint8Array;
}

export interface ScanningState {
  enabled: boolean;
  active: boolean;
  /** Scan interval and window, in 0.625 ms units. */
  interval: number;
  window: number;
  ownAddressType: number;
  filterDuplicates: boolean;
  /** Air time the scan began, for the scan window's phase. */
  startedAt: number;
  /** Reports already given in this scan session (duplicate filtering). */
  reported: Set<string>;
}

export interface ControllerStats {
  commands: number;
  unknownCommands: number;
  aclFromHost: number;
  aclToHost: number;
  /** ACL packets from the host the controller dropped (unknown handle, buffers full). */
  aclDropped: number;
  eventsToHost: number;
  /** Advertising events this controller sent (as an advertiser). */
  advertisingEvents: number;
  /** Advertising reports it gave its host (as a scanner). */
  advertisingReports: number;
  /** Advertising PDUs it would have heard but lost to injected interference. */
  advertisingLost: number;
}

export interface ControllerOptions {
  index: number;
  address: DeviceAddress;
  /** LE ACL data buffers offered to the host. */
  aclBufferLength: number;
  aclBufferCount: number;
  now(): number;
  /** Every packet the controller sends its host, already H4-encoded. */
  toHost(bytes: Uint8Array, packet: ControllerPacket): void;
}

/**
 * One virtual LE controller: the HCI state a host sees (masks, advertising and scanning
 * settings, buffers) and the events it sends. The air does everything between controllers.
 *
 * Hand-written because no maintained npm package emulates an LE controller: noble's and
 * bleno's test doubles mock the host side, and BlueZ's btvirt is C and needs kernel sockets.
 */
export class HciController {
  readonly index: number;
  readonly publicAddress: DeviceAddress;
  readonly aclBufferLength: number;
  readonly aclBufferCount: number;
  readonly stats: ControllerStats = {
    commands: 0,
    unknownCommands: 0,
    aclFromHost: 0,
    aclToHost: 0,
    aclDropped: 0,
    eventsToHost: 0,
    advertisingEvents: 0,
    advertisingReports: 0,
    advertisingLost: 0,
  };
  eventMask = DEFAULT_EVENT_MASK;
  leEventMask = DEFAULT_LE_EVENT_MASK;
  leHostSupported = false;
  randomAddress: DeviceAddress | undefined;
  suggestedDataLength = { octets: LL_MIN_OCTETS, timeUs: LL_MIN_TIME_US };
  advertising: AdvertisingState = initialAdvertising();
  scanning: ScanningState = initialScanning();
  /** Host ACL packets held in controller buffers, per connection handle. */
  readonly buffered = new Map<number, number>();
  private nextHandle = 0x0040;
  private afterReplyQueue: Array<() => void> = [];
  radio: Radio | undefined;

  constructor(private readonly options: ControllerOptions) {
    this.index = options.index;
    this.publicAddress = options.address;
    this.aclBufferLength = options.aclBufferLength;
    this.aclBufferCount = options.aclBufferCount;
  }

  now(): number {
    return this.options.now();
  }

  /** The address this controller uses over the air for the given own-address type. */
  ownAddress(ownAddressType: number): DeviceAddress {
    return ownAddressType === 1 && this.randomAddress ? this.randomAddress : this.publicAddress;
  }

  receive(packet: HostPacket): void {
    if (packet.kind === 'command') {
      this.stats.commands++;
      runCommand(this, packet.opcode, packet.params);
      return;
    }
    this.stats.aclFromHost++;
    const radio = this.radio;
    const held = this.buffered.get(packet.handle);
    if (!radio || held === undefined) {
      // Data for a handle that is not (or no longer) a connection: a real controller drops it.
      this.stats.aclDropped++;
      return;
    }
    if (this.bufferedTotal() >= this.aclBufferCount) {
      // The host ignored flow control: what a real controller reports, and nothing is kept.
      this.stats.aclDropped++;
      this.emitEvent(EVENT.dataBufferOverflow, Uint8Array.of(0x01), 25n);
      return;
    }
    const start = packet.boundary !== PB.continuation;
    if (radio.sendAcl(this, packet.handle, start, packet.data)) {
      this.buffered.set(packet.handle, held + 1);
    } else {
      this.stats.aclDropped++;
    }
  }

  /** Back to power-on state (HCI Reset): links, advertising and scanning end silently. */
  reset(): void {
    this.radio?.controllerReset(this);
    this.eventMask = DEFAULT_EVENT_MASK;
    this.leEventMask = DEFAULT_LE_EVENT_MASK;
    this.leHostSupported = false;
    this.randomAddress = undefined;
    this.suggestedDataLength = { octets: LL_MIN_OCTETS, timeUs: LL_MIN_TIME_US };
    this.advertising = initialAdvertising();
    this.scanning = initialScanning();
    this.buffered.clear();
  }

  allocateHandle(): number {
    // Handles are never 0: bleno treats handle 0 as "no handle" in disconnect().
    for (;;) {
      const handle = this.nextHandle;
      this.nextHandle = this.nextHandle >= 0x0eff ? 0x0040 : this.nextHandle + 1;
      if (!this.buffered.has(handle)) {
        this.buffered.set(handle, 0);
        return handle;
      }
    }
  }

  releaseHandle(handle: number): void {
    this.buffered.delete(handle);
  }

  bufferedTotal(): number {
    let total = 0;
    for (const count of this.buffered.values()) total += count;
    return total;
  }

  /** Runs `step` once the reply to the command being run has been sent. */
  afterReply(step: () => void): void {
    this.afterReplyQueue.push(step);
  }

  runAfterReply(): void {
    const steps = this.afterReplyQueue.splice(0);
    for (const step of steps) step();
  }

  // ---- what the controller tells its host ----

  commandComplete(opcode: number, returnParams: ArrayLike<number>): void {
    const params = Uint8Array.of(1, opcode & 0xff, opcode >> 8, ...Array.from(returnParams));
    this.send(EVENT.commandComplete, params);
  }

  commandStatus(opcode: number, status: number): void {
    this.send(EVENT.commandStatus, Uint8Array.of(status, 1, opcode & 0xff, opcode >> 8));
  }

  /** An event the host can mask; `maskBit` is its bit in the event mask. */
  emitEvent(code: number, params: Uint8Array, maskBit: bigint): void {
    if ((this.eventMask >> maskBit) & 1n) this.send(code, params);
  }

  /** An LE Meta event, if both masks let it through; returns whether it was sent. */
  emitLeEvent(subevent: number, params: ArrayLike<number>): boolean {
    if (!((this.eventMask >> EVENT_MASK_BIT.leMeta) & 1n)) return false;
    if (!((this.leEventMask >> BigInt(subevent - 1)) & 1n)) return false;
    this.send(EVENT.leMeta, Uint8Array.of(subevent, ...Array.from(params)));
    return true;
  }

  disconnectionComplete(handle: number, reason: number): void {
    this.releaseHandle(handle);
    const params = Uint8Array.of(0, handle & 0xff, handle >> 8, reason);
    this.emitEvent(EVENT.disconnectionComplete, params, EVENT_MASK_BIT.disconnectionComplete);
  }

  /** Transmitted host packets, per handle: their buffers are free again. */
  completedPackets(counts: Map<number, number>): void {
    const entries = [...counts].filter(([handle, count]) => count > 0 && this.buffered.has(handle));
    if (entries.length === 0) return;
    const params = [entries.length];
    for (const [handle, count] of entries) {
      this.buffered.set(handle, Math.max(0, this.buffered.get(handle)! - count));
      params.push(handle & 0xff, handle >> 8, count & 0xff, count >> 8);
    }
    this.send(EVENT.numberOfCompletedPackets, Uint8Array.from(params));
  }

  /**
   * Data from the peer. Both stacks send their first fragments as "first, non-flushable"
   * (0b00) but accept only "first, flushable" (0b10) and continuations, which is what real LE
   * controllers deliver: so starts always go up as 0b10.
   */
  deliverAcl(handle: number, start: boolean, data: Uint8Array): void {
    this.stats.aclToHost++;
    const boundary = start ? PB.firstFlushable : PB.continuation;
    const bytes = encodeAcl(handle, boundary, data);
    this.options.toHost(bytes, { kind: 'acl', handle, boundary, broadcast: 0, data });
  }

  advertisingReport(type: number, address: DeviceAddress, data: Uint8Array, rssi: number): void {
    const params = [1, type, address.type, ...address.bytes, data.length, ...data, rssi & 0xff];
    if (this.emitLeEvent(LE_SUBEVENT.advertisingReport, params)) this.stats.advertisingReports++;
  }

  private send(code: number, params: Uint8Array): void {
    this.stats.eventsToHost++;
    this.options.toHost(encodeEvent(code, params), { kind: 'event', code, params });
  }
}

function initialAdvertising(): AdvertisingState {
  return {
    enabled: false,
    intervalMin: 0x0800, // 1.28 s, the spec's default
    type: 0,
    ownAddressType: 0,
    directAddress: undefined,
    data: new Uint8Array(0),
    scanResponse: new Uint8Array(0),
  };
}

function initialScanning(): ScanningState {
  return {
    enabled: false,
    active: false,
    interval: 0x0010,
    window: 0x0010,
    ownAddressType: 0,
    filterDuplicates: false,
    startedAt: 0,
    reported: new Set(),
  };
}
