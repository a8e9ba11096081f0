import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deriveSeed, seededRandom } from '../serial-line/prng.js';
import { defaultAddress, parseAddress } from './address.js';
import { AirModel } from './air.js';
import { ScaledAirClock } from './air-clock.js';
import type { TraceDirection } from './btsnoop.js';
import { BtsnoopWriter } from './btsnoop.js';
import type { ControllerStats } from './controller.js';
import { HciController } from './controller.js';
import type { ControllerPacket, HostPacket } from './h4.js';
import { encodePacket } from './h4.js';
import { OP } from './hci.js';
import type { HostPortStats } from './host-port.js';
import { HostPort } from './host-port.js';
import type { Position } from './propagation.js';

export interface VirtualAirOptions {
  /** How many controllers (ports); default 2. */
  controllers?: number;
  /** Folder for the port links; default a fresh temporary folder, removed on close. */
  dir?: string;
  /** Port links are `<name>-<index>`; default `ble`. */
  name?: string;
  /** Real time per air time: 1 real time, 0.01 a hundred times faster, 0 zero latency. */
  timeScale?: number;
  /** Seed of advertising timing and fault injection; same seed, same choices. */
  seed?: number;
  /** Public addresses, one per controller; default c0:de:00:00:00:01, ...02, ... */
  addresses?: string[];
  /** Folder to write one btsnoop trace per controller (`<name>-<index>.btsnoop`). */
  trace?: string;
  /** Which end of the central's connection interval range links use; default 'max'. */
  intervalChoice?: 'min' | 'max';
  /** Default `socat` (looked up in PATH). */
  socatPath?: string;
}

/** Options for noble's and bleno's `withBindings('hci', ...)` to use one controller. */
export interface HciUartBindings {
  hciDriver: 'uart';
  bindParams: { uart: { port: string; baudRate: number } };
}

export interface ConnectionInfo {
  central: number;
  /** Undefined while a refused connection is failing. */
  peripheral: number | undefined;
  centralHandle: number;
  peripheralHandle: number | undefined;
  state: 'connected' | 'lost' | 'closed';
  intervalMs: number;
  timeoutMs: number;
  /** Connection event counter now. */
  eventCounter: number;
}

export interface HciPacketRecord {
  controller: number;
  direction: TraceDirection;
  packet: HostPacket | ControllerPacket;
}

export interface VirtualAirEvents {
  /** Every HCI packet between a host and its controller. */
  packet: [record: HciPacketRecord];
  /** A port's socat died; the air carries on without that port. */
  failure: [reason: string];
}

// Offered to each host: LE ACL buffers of 251 bytes (one full LL PDU with Data Length
// Extension), eight of them, like common UART controllers.
const ACL_BUFFER_LENGTH = 251;
const ACL_BUFFER_COUNT = 8;
// The UART drivers default to 1 Mbaud; the pty ignores it and the air does not model it.
const UART_BAUD = 1_000_000;

const ownedDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * The virtual BLE air: N virtual LE controllers, each on a pseudo-terminal that a real host
 * (noble, bleno) opens as an HCI UART, joined by a simulated radio.
 *
 * ```ts
 * const air = await VirtualAir.start({ controllers: 2, timeScale: 0.1 });
 * const bleno = withBindings('hci', air.bindings(0));
 * const noble = withBindings('hci', air.bindings(1));
 * // ... then: await air.close();
 * ```
 */
export class VirtualAir extends EventEmitter<VirtualAirEvents> {
  private readonly clock: ScaledAirClock;
  private readonly model: AirModel;
  private readonly controllers: HciController[] = [];
  private readonly hostPorts: HostPort[] = [];
  private readonly traces: BtsnoopWriter[] = [];
  private readonly startedAtUnixMs = Date.now();
  private closed = false;

  private constructor(
    readonly ports: string[],
    readonly addresses: string[],
    readonly timeScale: number,
    seed: number,
    intervalChoice: 'min' | 'max',
    private readonly ownedDir: string | undefined,
  ) {
    super();
    this.clock = new ScaledAirClock(timeScale);
    this.model = new AirModel({
      clock: this.clock,
      random: seededRandom(deriveSeed(seed, 0)),
      zeroLatency: timeScale === 0,
      intervalChoice,
    });
  }

  static async start(options: VirtualAirOptions = {}): Promise<VirtualAir> {
    const count = options.controllers ?? 2;
    if (!Number.isInteger(count) || count < 1 || count > 64) {
      throw new RangeError(`controllers must be a whole number from 1 to 64, got ${count}`);
    }
    const addresses =
      options.addresses ?? Array.from({ length: count }, (_, i) => defaultAddress(i));
    if (addresses.length !== count) {
      throw new RangeError(`${addresses.length} addresses given for ${count} controllers`);
    }
    const parsed = addresses.map((text) => parseAddress(text));
    const ownedDir = options.dir ? undefined : await mkdtemp(join(tmpdir(), 'ble-air-'));
    if (ownedDir) ownedDirs.add(ownedDir);
    const dir = resolve(options.dir ?? ownedDir!);
    await mkdir(dir, { recursive: true });
    const name = options.name ?? 'ble';
    const ports = parsed.map((_, index) => join(dir, `${name}-${index}`));
    const air = new VirtualAir(
      ports,
      parsed.map((address) => address.text),
      options.timeScale ?? 1,
      options.seed ?? 1,
      options.intervalChoice ?? 'max',
      ownedDir,
    );
    try {
      if (options.trace) await mkdir(options.trace, { recursive: true });
      for (const [index, address] of parsed.entries()) {
        const tracePath = options.trace && join(options.trace, `${name}-${index}.btsnoop`);
        await air.addController(
          index,
          address,
          ports[index]!,
          options.socatPath ?? 'socat',
          tracePath,
        );
      }
    } catch (error) {
      await air.close();
      throw error;
    }
    return air;
  }

  /** `withBindings('hci', air.bindings(i))` makes noble or bleno use controller `i`. */
  bindings(index: number): HciUartBindings {
    return {
      hciDriver: 'uart',
      bindParams: { uart: { port: this.port(index), baudRate: UART_BAUD } },
    };
  }

  port(index: number): string {
    const port = this.ports[index];
    if (port === undefined)
      throw new RangeError(`no controller ${index} (0..${this.ports.length - 1})`);
    return port;
  }

  // ---- fault injection and geometry ----

  /** Each advertising PDU (and connect request) a listener would hear is lost with this chance. */
  setAdvertisingLoss(rate: number): void {
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`loss rate must be 0..1, got ${rate}`);
    this.model.conditions.advertisingLossRate = rate;
  }

  /** Drops the connections between two controllers: both hosts see a supervision timeout. */
  dropConnection(a: number, b: number): number {
    return this.model.dropLinks(this.controller(a), this.controller(b));
  }

  /** The controller ignores connect requests (the central's host sees the connection fail). */
  refuseConnections(index: number, refuse = true): void {
    this.model.conditions.setRefusing(this.controller(index), refuse);
  }

  /** Out of everyone's range (its links time out) until set back. */
  setOutOfRange(index: number, outOfRange = true): void {
    this.model.setShielded(this.controller(index), outOfRange);
  }

  /** Moves a controller (metres); RSSI follows distance, and beyond ~63 m it is out of range. */
  setPosition(index: number, position: Position): void {
    this.model.setPosition(this.controller(index), position);
  }

  position(index: number): Position {
    return this.model.conditions.position(this.controller(index));
  }

  /** RSSI `receiver` reads from `sender` now (undefined: out of range). */
  rssi(receiver: number, sender: number): number | undefined {
    return this.model.rssi(this.controller(receiver), this.controller(sender));
  }

  // ---- observation ----

  connections(): ConnectionInfo[] {
    return [...this.model.links].map((link) => ({
      central: link.central.controller.index,
      peripheral: link.peripheral?.controller.index,
      centralHandle: link.central.handle,
      peripheralHandle: link.peripheral?.handle,
      state: link.state,
      intervalMs: link.parameters.intervalMs,
      timeoutMs: link.parameters.timeoutMs,
      eventCounter: link.eventCounter,
    }));
  }

  stats(index: number): ControllerStats & HostPortStats {
    return { ...this.controller(index).stats, ...this.hostPorts[index]!.stats };
  }

  /** Air time now, in ms since the air started. */
  now(): number {
    return this.clock.now();
  }

  /** socat process ids (for tests and diagnostics). */
  get processIds(): number[] {
    return this.hostPorts.flatMap((port) => (port.pid === undefined ? [] : [port.pid]));
  }

  /** Ends the ports (hosts see their devices vanish), traces and timers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.model.close();
    this.clock.close();
    await Promise.all(this.hostPorts.map((port) => port.close()));
    for (const trace of this.traces) trace.close();
    if (this.ownedDir) {
      await rm(this.ownedDir, { recursive: true, force: true });
      ownedDirs.delete(this.ownedDir);
    }
  }

  private controller(index: number): HciController {
    const controller = this.controllers[index];
    if (!controller)
      throw new RangeError(`no controller ${index} (0..${this.controllers.length - 1})`);
    return controller;
  }

  private async addController(
    index: number,
    address: ReturnType<typeof parseAddress>,
    linkPath: string,
    socatPath: string,
    tracePath: string | undefined,
  ): Promise<void> {
    const trace = tracePath ? new BtsnoopWriter(tracePath) : undefined;
    if (trace) this.traces.push(trace);
    const record = (
      direction: TraceDirection,
      packet: HostPacket | ControllerPacket,
      bytes: Uint8Array,
    ) => {
      trace?.write(direction, bytes, (this.startedAtUnixMs + this.clock.now()) * 1000);
      if (this.listenerCount('packet') > 0)
        this.emit('packet', { controller: index, direction, packet });
    };
    const hostPort = new HostPort({
      linkPath,
      socatPath,
      maxAclLength: ACL_BUFFER_LENGTH,
      onPacket: (packet) => {
        if (this.closed) return;
        record('hostToController', packet, encodePacket(packet));
        // What waits for the host is stale from here on (a restarted host's first word).
        if (packet.kind === 'command' && packet.opcode === OP.reset) hostPort.hostReset();
        controller.receive(packet);
      },
      onLost: (reason) => this.emit('failure', reason),
    });
    this.hostPorts.push(hostPort);
    const controller = new HciController({
      index,
      address,
      aclBufferLength: ACL_BUFFER_LENGTH,
      aclBufferCount: ACL_BUFFER_COUNT,
      now: () => this.clock.now(),
      toHost: (bytes, packet) => {
        record('controllerToHost', packet, bytes);
        hostPort.send(bytes);
      },
    });
    this.model.add(controller);
    this.controllers.push(controller);
    await hostPort.start();
  }
}
