import { EventEmitter } from 'node:events';
import { lstat, unlink } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { createConnection, createServer } from 'node:net';
import type {
  BusErrorBody,
  BusErrorCode,
  BusEvent,
  BusRequest,
} from '../../src/hal/sim/bus-protocol.js';
import {
  BUS_PROTOCOL_VERSION,
  MAX_LINE_BYTES,
  encodeLine,
  parseRequest,
} from '../../src/hal/sim/bus-protocol.js';
import { LineDecoder } from '../../src/hal/sim/line-decoder.js';
import type { RtcChange } from './module-rtc.js';
import { ModuleRtc } from './module-rtc.js';
import { ModuleRadios } from './module-radios.js';
import type { SimClock } from './sim-clock.js';
import type { SimulatedVehicle } from './simulated-vehicle.js';
import type { VehicleEvents } from './vehicle-types.js';
import { VehicleControlError } from './vehicle-types.js';

export interface VehicleBusServerOptions {
  /** Unix socket path, one per module. A stale socket file there is replaced; a live one is an error. */
  path: string;
  vehicle: SimulatedVehicle;
  clock: SimClock;
  /** Default MAX_LINE_BYTES (64 KiB). */
  maxLineBytes?: number;
}

export interface VehicleBusServerEvents {
  connection: [change: { connection: number; open: boolean }];
  /** A line refused at the edge (for module-sim's log); nothing changed because of it. */
  rejected: [rejection: { connection: number; code: BusErrorCode; message: string }];
}

// Linux sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;
// A client that stops reading is cut off rather than buffered for without limit.
const MAX_QUEUED_OUTPUT_BYTES = 1024 * 1024;

/** A thrown bus error: becomes the error response to the request being handled. */
class BusFailure extends Error {
  constructor(readonly body: BusErrorBody) {
    super(body.message);
  }
}

/**
 * Serves one simulated car and its module's RTC and radios on a Unix socket: the 5GE vehicle bus,
 * the GNSS receiver, the modem, the Bluetooth radio and the supply monitor as the firmware's sim
 * drivers see them (bus-protocol.ts; the
 * message set is in README.md). Any number of connections; a closed one leaves nothing behind.
 */
export class VehicleBusServer extends EventEmitter<VehicleBusServerEvents> {
  readonly path: string;
  /** The module's real-time clock, which the firmware reads and sets over the bus. */
  readonly rtc: ModuleRtc;
  /** The module's modem and Bluetooth radio (their health is the module's, not the car's). */
  readonly radios: ModuleRadios;
  readonly #server: Server;
  readonly #vehicle: SimulatedVehicle;
  readonly #maxLineBytes: number;
  readonly #connections = new Map<Socket, number>();
  #nextConnection = 1;
  readonly #unsubscribe: Array<() => void> = [];

  private constructor(server: Server, options: VehicleBusServerOptions) {
    super();
    this.#server = server;
    this.path = options.path;
    this.#vehicle = options.vehicle;
    this.#maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.rtc = new ModuleRtc(options.clock, options.vehicle);
    this.radios = new ModuleRadios(options.vehicle);
    server.on('connection', (socket) => this.#accept(socket));
    this.#subscribe();
  }

  static async listen(options: VehicleBusServerOptions): Promise<VehicleBusServer> {
    if (Buffer.byteLength(options.path) > MAX_SOCKET_PATH_BYTES) {
      throw new Error(
        `Socket path too long for a Unix socket (${Buffer.byteLength(options.path)} bytes, at most ${MAX_SOCKET_PATH_BYTES}): ${options.path}. Use a shorter folder.`,
      );
    }
    await removeStaleSocket(options.path);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new VehicleBusServer(server, options);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Closes every connection, stops listening and removes the socket file. */
  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.rtc.dispose();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#disconnectAll();
    await closed;
    await unlink(this.path).catch(() => undefined);
  }

  #accept(socket: Socket): void {
    const connection = this.#nextConnection++;
    const decoder = new LineDecoder(this.#maxLineBytes);
    this.#connections.set(socket, connection);
    this.emit('connection', { connection, open: true });
    socket.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk)) {
        if (!line.ok) {
          this.#refuse(socket, connection, null, { code: line.code, message: line.message });
          continue;
        }
        const parsed = parseRequest(line.value);
        if (!parsed.ok) this.#refuse(socket, connection, parsed.id, parsed.error);
        else this.#send(socket, this.#answer(parsed.request));
      }
    });
    // Errors (EPIPE, ECONNRESET) end in 'close'; nothing to do but not crash.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#connections.delete(socket);
      this.emit('connection', { connection, open: false });
    });
  }

  #refuse(socket: Socket, connection: number, id: number | null, error: BusErrorBody): void {
    this.emit('rejected', { connection, code: error.code, message: error.message });
    this.#send(socket, { id, error });
  }

  #answer(request: BusRequest): object {
    try {
      return { id: request.id, result: this.#handle(request) };
    } catch (error) {
      if (error instanceof BusFailure) return { id: request.id, error: error.body };
      if (error instanceof VehicleControlError) {
        return { id: request.id, error: fromControlError(error) };
      }
      const message = error instanceof Error ? error.message : String(error);
      return { id: request.id, error: { code: 'internal', message } };
    }
  }

  #handle(request: BusRequest): object {
    const vehicle = this.#vehicle;
    if (request.method === 'hello') return { protocolVersion: BUS_PROTOCOL_VERSION };
    if (!vehicle.powered) {
      throw new BusFailure({ code: 'no-power', message: 'The 12 V battery is disconnected.' });
    }
    switch (request.method) {
      case 'gnss.read':
        return vehicle.gnss();
      case 'supply.read':
        return { millivolts: vehicle.supplyMillivolts };
      case 'modem.registration':
        return this.radios.cellularRegistration();
      case 'ble.self-check':
        return this.radios.bleSelfCheck();
      case 'clock.read':
        return this.rtc.read();
      case 'clock.set':
        return this.rtc.set(request.params.nowMs);
    }
    // Everything else goes through the 5GE interface, which only a 5GE car has.
    if (!vehicle.hasSharingInterface) {
      throw new BusFailure({
        code: 'no-sharing-interface',
        message: `This car (${vehicle.identity.model}) has no 5GE sharing interface: option 5GE is not coded.`,
      });
    }
    switch (request.method) {
      case 'identity.read':
        return {
          ...vehicle.identity,
          optionCodes: [...vehicle.identity.optionCodes],
          doors: [...vehicle.identity.doors],
        };
      case 'state.read':
        return vehicle.state();
      case 'lock':
        return vehicle.lock('module');
      case 'unlock':
        return vehicle.unlock('module');
      case 'immobilizer.release':
        return vehicle.releaseImmobilizer();
      case 'immobilizer.engage':
        return vehicle.engageImmobilizer();
    }
  }

  /** Vehicle and RTC changes become bus events: one listener each, shared by all connections. */
  #subscribe(): void {
    const vehicle = this.#vehicle;
    const viaInterface = (event: BusEvent) => {
      if (vehicle.hasSharingInterface) this.#broadcast(event);
    };
    this.#listen('doors', ({ openDoors }) => viaInterface({ event: 'doors', data: { openDoors } }));
    this.#listen('lock', ({ locked }) => viaInterface({ event: 'lock', data: { locked } }));
    this.#listen('ignition', ({ ignition, engineRunning }) =>
      viaInterface({ event: 'ignition', data: { ignition, engineRunning } }),
    );
    this.#listen('immobilizer', ({ released }) =>
      viaInterface({ event: 'immobilizer', data: { released } }),
    );
    this.#listen('speed', ({ speedKmh }) => viaInterface({ event: 'speed', data: { speedKmh } }));
    this.#listen('keys', ({ keysInCabin }) =>
      viaInterface({ event: 'keys', data: { keysInCabin } }),
    );
    // The supply monitor and the RTC are the module's own: no 5GE needed.
    this.#listen('supply', ({ millivolts }) =>
      this.#broadcast({ event: 'supply', data: { millivolts } }),
    );
    // The module dies with the battery: every connection ends, as the firmware process will.
    this.#listen('power', ({ on }) => {
      if (!on) this.#disconnectAll();
    });
    const onClock = (data: RtcChange) => this.#broadcast({ event: 'clock', data });
    this.rtc.on('change', onClock);
    this.#unsubscribe.push(() => this.rtc.off('change', onClock));
  }

  #listen<E extends keyof VehicleEvents>(
    event: E,
    listener: (...args: VehicleEvents[E]) => void,
  ): void {
    const vehicle = this.#vehicle as EventEmitter<VehicleEvents>;
    vehicle.on(event as keyof VehicleEvents, listener as (...args: unknown[]) => void);
    this.#unsubscribe.push(() =>
      vehicle.off(event as keyof VehicleEvents, listener as (...args: unknown[]) => void),
    );
  }

  #broadcast(event: BusEvent): void {
    if (!this.#vehicle.powered) return;
    for (const socket of this.#connections.keys()) this.#send(socket, event);
  }

  #send(socket: Socket, message: object): void {
    if (socket.destroyed) return;
    socket.write(encodeLine(message));
    if (socket.writableLength > MAX_QUEUED_OUTPUT_BYTES) socket.destroy();
  }

  #disconnectAll(): void {
    for (const socket of this.#connections.keys()) socket.destroy();
  }
}

function fromControlError(error: VehicleControlError): BusErrorBody {
  switch (error.code) {
    case 'doors-open':
      return {
        code: 'doors-open',
        message: error.message,
        details: { openDoors: error.details.openDoors ?? [] },
      };
    case 'no-power':
      return { code: 'no-power', message: error.message };
    default:
      return { code: 'internal', message: error.message };
  }
}

/** A socket file left by a crashed module-sim is removed; one something listens on is not. */
async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined) return;
  if (!stats.isSocket()) {
    throw new Error(`${path} exists and is not a socket: refusing to replace it.`);
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path} is in use by a running vehicle bus.`);
  await unlink(path);
}
