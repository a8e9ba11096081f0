import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '@mini-sharing/shared-protocol/clock';
import type { Random } from '../serial-line/prng.js';
import { sameAddress } from './address.js';
import type { ConnectionRequest, HciController, ParameterRange, Radio } from './controller.js';
import { ADV_TYPE, INTERVAL_UNIT_MS, REPORT_TYPE, STATUS, TIMEOUT_UNIT_MS } from './hci.js';
import type { LinkEnd, LinkParameters } from './link.js';
import { Link } from './link.js';
import type { Position } from './propagation.js';
import { RadioConditions } from './radio-conditions.js';

export interface AirModelOptions {
  clock: Clock;
  random: Random;
  /** Data at once instead of at connection events. */
  zeroLatency: boolean;
  /** Which end of the central's interval range the link uses; default 'max'. */
  intervalChoice?: 'min' | 'max';
  /** Connections one controller can hold; default 8. */
  maxConnections?: number;
}

export interface AirModelEvents {
  connection: [link: Link];
  linkClosed: [link: Link];
}

// Advertising events are spaced by the interval plus a random 0-10 ms (advDelay, Vol 6 Part B
// 4.4.2.2), so two advertisers never stay in lockstep.
const ADV_DELAY_MAX_MS = 10;
const ADV_UNIT_MS = 0.625;
// The report event type for each advertising type.
const REPORT_FOR_ADVERTISING: Record<number, number> = {
  [ADV_TYPE.ind]: REPORT_TYPE.ind,
  [ADV_TYPE.directHigh]: REPORT_TYPE.direct,
  [ADV_TYPE.scanInd]: REPORT_TYPE.scanInd,
  [ADV_TYPE.nonconnInd]: REPORT_TYPE.nonconnInd,
  [ADV_TYPE.directLow]: REPORT_TYPE.direct,
};
// RSSI reported when the peer cannot be heard (HCI's "not available").
const RSSI_UNAVAILABLE = 127;

/**
 * The radio medium between virtual controllers: who hears whom (positions, range, faults),
 * advertising events delivered to scanners and initiators, and connections (Link).
 */
export class AirModel extends EventEmitter<AirModelEvents> implements Radio {
  readonly controllers: HciController[] = [];
  readonly links = new Set<Link>();
  readonly conditions: RadioConditions;
  private readonly initiators = new Map<HciController, ConnectionRequest>();
  private readonly initiatingSince = new Map<HciController, number>();
  // Next advertising event of each advertising controller, in air time.
  private readonly nextAdvertising = new Map<HciController, number>();
  private readonly clock: Clock;
  private timer: { handle: TimerHandle; at: number } | undefined;

  constructor(private readonly options: AirModelOptions) {
    super();
    this.clock = options.clock;
    this.conditions = new RadioConditions(options.random);
  }

  add(controller: HciController): void {
    controller.radio = this;
    this.controllers.push(controller);
    // Default: a row one metre apart, so every pair hears the other well.
    this.conditions.place(controller, { x: controller.index, y: 0 });
  }

  // ---- faults and geometry ----

  setPosition(controller: HciController, position: Position): void {
    this.conditions.place(controller, position);
    this.loseLinksOutOfRange();
  }

  /** Out of range of everyone (as if carried away), whatever its position. */
  setShielded(controller: HciController, shielded: boolean): void {
    this.conditions.setShielded(controller, shielded);
    this.loseLinksOutOfRange();
    this.reschedule();
  }

  rssi(receiver: HciController, sender: HciController): number | undefined {
    return this.conditions.rssi(receiver, sender);
  }

  /** Ends links between two controllers as a radio failure would (supervision timeout). */
  dropLinks(a: HciController, b: HciController): number {
    let dropped = 0;
    for (const link of this.links) {
      const controllers = link.ends.map((end) => end.controller);
      if (controllers.includes(a) && controllers.includes(b) && link.state === 'connected') {
        link.lose();
        dropped++;
      }
    }
    return dropped;
  }

  close(): void {
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
    this.initiators.clear();
    this.nextAdvertising.clear();
  }

  // ---- Radio, for the controllers ----

  advertisingChanged(controller: HciController): void {
    if (controller.advertising.enabled) {
      this.nextAdvertising.set(controller, this.clock.now() + this.advDelay());
    } else {
      this.nextAdvertising.delete(controller);
    }
    this.reschedule();
  }

  scanningChanged(): void {
    this.reschedule();
  }

  createConnection(controller: HciController, request: ConnectionRequest): number {
    if (this.initiators.has(controller)) return STATUS.commandDisallowed;
    for (const link of this.links) {
      const end = link.endOf(controller);
      const peer = end && link.peerOf(end);
      if (peer && sameAddress(peer.address, request.peer)) return STATUS.connectionAlreadyExists;
    }
    if (this.connectionCount(controller) >= this.maxConnections) {
      return STATUS.connectionLimitExceeded;
    }
    this.initiators.set(controller, { ...request });
    // The initiator's scan starts now: its window phase counts from here.
    this.initiatingSince.set(controller, this.clock.now());
    this.reschedule();
    return STATUS.success;
  }

  cancelConnection(controller: HciController): boolean {
    const cancelled = this.initiators.delete(controller);
    this.initiatingSince.delete(controller);
    this.reschedule();
    return cancelled;
  }

  disconnect(controller: HciController, handle: number, reason: number): number {
    const found = this.findLink(controller, handle);
    if (!found) return STATUS.unknownConnection;
    found.link.requestDisconnect(found.end, reason);
    return STATUS.success;
  }

  sendAcl(controller: HciController, handle: number, start: boolean, data: Uint8Array): boolean {
    const found = this.findLink(controller, handle);
    return found ? found.link.send(found.end, start, data) : false;
  }

  updateConnection(controller: HciController, handle: number, request: ParameterRange): number {
    const found = this.findLink(controller, handle);
    if (!found) return STATUS.unknownConnection;
    // Only the central may (no Connection Parameters Request procedure in this controller).
    if (found.end !== found.link.central) return STATUS.commandDisallowed;
    found.link.requestUpdate(this.parametersFor(request));
    return STATUS.success;
  }

  setDataLength(controller: HciController, handle: number, octets: number): number {
    const found = this.findLink(controller, handle);
    if (!found) return STATUS.unknownConnection;
    found.link.requestDataLength(found.end, octets);
    return STATUS.success;
  }

  readRssi(controller: HciController, handle: number): number | undefined {
    const found = this.findLink(controller, handle);
    if (!found) return undefined;
    const peer = found.link.peerOf(found.end);
    return (peer && this.rssi(controller, peer.controller)) ?? RSSI_UNAVAILABLE;
  }

  controllerReset(controller: HciController): void {
    this.initiators.delete(controller);
    this.initiatingSince.delete(controller);
    this.nextAdvertising.delete(controller);
    for (const link of this.links) {
      if (link.endOf(controller)) link.lose(controller);
    }
    this.reschedule();
  }

  // ---- advertising events ----

  private advDelay(): number {
    return this.options.random() * ADV_DELAY_MAX_MS;
  }

  private listening(): HciController[] {
    return this.controllers.filter((c) => c.scanning.enabled || this.initiators.has(c));
  }

  /** Runs advertising events only while someone listens: an idle air costs no timers. */
  private reschedule(): void {
    const now = this.clock.now();
    let next = Infinity;
    if (this.listening().length > 0) {
      for (const [advertiser, at] of this.nextAdvertising) {
        let when = at;
        if (when < now) {
          // Nobody listened for a while: a listener arriving now meets a random phase.
          when = now + this.options.random() * advertiser.advertising.intervalMin * ADV_UNIT_MS;
          this.nextAdvertising.set(advertiser, when);
        }
        next = Math.min(next, when);
      }
    }
    if (this.timer && this.timer.at === next) return;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
    if (next === Infinity) return;
    const handle = this.clock.setTimeout(() => this.onAdvertisingTimer(), next - now);
    this.timer = { handle, at: next };
  }

  private onAdvertisingTimer(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const due = [...this.nextAdvertising].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [advertiser, at] of due) {
      if (!this.nextAdvertising.has(advertiser)) continue; // connected by an earlier one
      const period = advertiser.advertising.intervalMin * ADV_UNIT_MS + this.advDelay();
      this.nextAdvertising.set(advertiser, at + period);
      this.advertisingEvent(advertiser, at);
    }
    this.reschedule();
  }

  private advertisingEvent(advertiser: HciController, time: number): void {
    advertiser.stats.advertisingEvents++;
    const settings = advertiser.advertising;
    const address = advertiser.ownAddress(settings.ownAddressType);
    const directed = settings.type === ADV_TYPE.directHigh || settings.type === ADV_TYPE.directLow;
    const connectable = directed || settings.type === ADV_TYPE.ind;
    const addressedTo = (listener: HciController, ownAddressType: number) =>
      !directed || sameAddress(settings.directAddress!, listener.ownAddress(ownAddressType));

    if (connectable) {
      for (const [initiator, request] of this.initiators) {
        if (initiator === advertiser || !sameAddress(request.peer, address)) continue;
        // A controller at its connection limit cannot take another (it would not be
        // connectable); this also bounds links and handles whatever hosts do.
        if (this.connectionCount(advertiser) >= this.maxConnections) continue;
        if (!addressedTo(initiator, request.ownAddressType)) continue;
        const since = this.initiatingSince.get(initiator) ?? time;
        if (
          !this.conditions.hears(
            initiator,
            advertiser,
            time - since,
            request.scanInterval,
            request.scanWindow,
          )
        ) {
          continue;
        }
        this.connect(initiator, advertiser, request);
        if (!this.conditions.refuses(advertiser)) return; // connectable advertising ends here
      }
    }
    for (const scanner of this.controllers) {
      const scan = scanner.scanning;
      if (scanner === advertiser || !scan.enabled) continue;
      if (
        !this.conditions.hears(
          scanner,
          advertiser,
          time - scan.startedAt,
          scan.interval,
          scan.window,
        )
      ) {
        continue;
      }
      if (!addressedTo(scanner, scan.ownAddressType)) continue;
      const rssi = this.rssi(scanner, advertiser)!;
      const type = REPORT_FOR_ADVERTISING[settings.type] ?? REPORT_TYPE.ind;
      // ADV_DIRECT_IND carries no advertising data.
      this.report(scanner, type, advertiser, directed ? new Uint8Array(0) : settings.data, rssi);
      const scannable = settings.type === ADV_TYPE.ind || settings.type === ADV_TYPE.scanInd;
      if (scan.active && scannable && !this.conditions.lost(scanner)) {
        this.report(scanner, REPORT_TYPE.scanRsp, advertiser, settings.scanResponse, rssi);
      }
    }
  }

  private report(
    scanner: HciController,
    type: number,
    advertiser: HciController,
    data: Uint8Array,
    rssi: number,
  ): void {
    const address = advertiser.ownAddress(advertiser.advertising.ownAddressType);
    if (scanner.scanning.filterDuplicates) {
      // Duplicates are the same address and event type within one scan session.
      const key = `${address.type}/${address.text}/${type}`;
      if (scanner.scanning.reported.has(key)) return;
      scanner.scanning.reported.add(key);
    }
    scanner.advertisingReport(type, address, data, rssi);
  }

  // ---- connections ----

  private connect(
    initiator: HciController,
    advertiser: HciController,
    request: ConnectionRequest,
  ): void {
    this.initiators.delete(initiator);
    this.initiatingSince.delete(initiator);
    const parameters = this.parametersFor(request);
    const central: LinkEnd = {
      controller: initiator,
      handle: initiator.allocateHandle(),
      address: initiator.ownAddress(request.ownAddressType),
    };
    const refused = this.conditions.refuses(advertiser);
    let peripheral: LinkEnd | undefined;
    if (!refused) {
      peripheral = {
        controller: advertiser,
        handle: advertiser.allocateHandle(),
        address: advertiser.ownAddress(advertiser.advertising.ownAddressType),
      };
      advertiser.advertising.enabled = false;
      this.nextAdvertising.delete(advertiser);
    }
    const link = new Link({
      central,
      peripheral,
      parameters,
      clock: this.clock,
      zeroLatency: this.options.zeroLatency,
      onClosed: (closed) => {
        this.links.delete(closed);
        this.emit('linkClosed', closed);
      },
    });
    this.links.add(link);
    link.announce(request.peer);
    this.emit('connection', link);
  }

  private parametersFor(range: ParameterRange): LinkParameters {
    const units = this.options.intervalChoice === 'min' ? range.intervalMin : range.intervalMax;
    return {
      intervalMs: units * INTERVAL_UNIT_MS,
      latency: range.latency,
      timeoutMs: range.timeout * TIMEOUT_UNIT_MS,
    };
  }

  private get maxConnections(): number {
    return this.options.maxConnections ?? 8;
  }

  private connectionCount(controller: HciController): number {
    return [...this.links].filter((link) => link.endOf(controller)).length;
  }

  private findLink(
    controller: HciController,
    handle: number,
  ): { link: Link; end: LinkEnd } | undefined {
    for (const link of this.links) {
      const end = link.endOf(controller);
      if (end && end.handle === handle && controller.buffered.has(handle)) return { link, end };
    }
    return undefined;
  }

  private loseLinksOutOfRange(): void {
    for (const link of this.links) {
      const [a, b] = link.ends;
      if (
        a &&
        b &&
        link.state === 'connected' &&
        this.rssi(a.controller, b.controller) === undefined
      ) {
        link.lose();
      }
    }
  }
}
