// Drives the air model without ptys or hosts, on a ManualClock: for the model's own tests.
import { ManualClock } from '@mini-sharing/shared-protocol/clock';
import { seededRandom } from '../serial-line/prng.js';
import { defaultAddress, parseAddress } from './address.js';
import { AirModel } from './air.js';
import { HciController } from './controller.js';
import type { ControllerPacket } from './h4.js';
import { encodeAcl, encodeCommand, H4Decoder } from './h4.js';
import { OP } from './hci.js';

export interface HarnessOptions {
  controllers?: number;
  zeroLatency?: boolean;
  seed?: number;
  aclBufferCount?: number;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const u16 = (value: number) => [value & 0xff, value >> 8];

export class ModelHarness {
  readonly clock = new ManualClock(0);
  readonly model: AirModel;
  readonly controllers: HciController[] = [];
  /** Raw bytes each controller sent its host, as hex, one string per packet. */
  private readonly wire: string[][] = [];

  constructor(options: HarnessOptions = {}) {
    this.model = new AirModel({
      clock: this.clock,
      random: seededRandom(options.seed ?? 1),
      zeroLatency: options.zeroLatency ?? false,
    });
    for (let index = 0; index < (options.controllers ?? 2); index++) {
      const out: string[] = [];
      this.wire.push(out);
      const controller = new HciController({
        index,
        address: parseAddress(defaultAddress(index)),
        aclBufferLength: 251,
        aclBufferCount: options.aclBufferCount ?? 8,
        now: () => this.clock.now(),
        toHost: (bytes) => out.push(hex(bytes)),
      });
      this.model.add(controller);
      this.controllers.push(controller);
    }
  }

  /** Sends H4 bytes as a host would; returns nothing (read with `take`). */
  host(index: number, bytes: Uint8Array): void {
    const decoder = new H4Decoder({ from: 'host' });
    for (const packet of decoder.push(bytes)) this.controllers[index]!.receive(packet);
  }

  command(index: number, opcode: number, params: number[] = []): void {
    this.host(index, encodeCommand(opcode, Uint8Array.from(params)));
  }

  acl(index: number, handle: number, boundary: number, data: number[]): void {
    this.host(index, encodeAcl(handle, boundary, Uint8Array.from(data)));
  }

  /** Everything controller `index` sent its host since the last take, as hex per packet. */
  takeHex(index: number): string[] {
    return this.wire[index]!.splice(0);
  }

  /** The same, decoded. */
  take(index: number): ControllerPacket[] {
    const decoder = new H4Decoder({ from: 'controller' });
    return this.takeHex(index).flatMap((packet) =>
      decoder.push(Uint8Array.from(Buffer.from(packet, 'hex'))),
    );
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** Reset plus the event masks noble sets (LE Meta on, all LE events noble wants). */
  powerOn(index: number): void {
    this.command(index, OP.reset);
    this.command(index, OP.setEventMask, [0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d]);
    this.command(index, OP.leSetEventMask, [0x5f, 0, 0, 0, 0, 0, 0, 0]);
    this.takeHex(index);
  }

  /** Advertising as bleno does it: ADV_IND every `intervalMs`. */
  advertise(index: number, data: number[], scanResponse: number[] = [], intervalMs = 100): void {
    const interval = Math.round(intervalMs / 0.625);
    this.command(index, OP.leSetAdvertisingParameters, [
      ...u16(interval),
      ...u16(interval),
      0x00,
      0x00,
      0x00,
      0,
      0,
      0,
      0,
      0,
      0,
      0x07,
      0x00,
    ]);
    this.command(index, OP.leSetAdvertisingData, pad32(data));
    this.command(index, OP.leSetScanResponseData, pad32(scanResponse));
    this.command(index, OP.leSetAdvertiseEnable, [1]);
    this.takeHex(index);
  }

  scan(index: number, options: { active?: boolean; filterDuplicates?: boolean } = {}): void {
    this.command(index, OP.leSetScanParameters, [
      options.active === false ? 0 : 1,
      0x12,
      0,
      0x12,
      0,
      0,
      0,
    ]);
    this.command(index, OP.leSetScanEnable, [1, options.filterDuplicates === false ? 0 : 1]);
    this.takeHex(index);
  }

  /** LE Create Connection with noble's parameters (7.5-22.5 ms, timeout 420 ms). */
  createConnection(central: number, peripheral: number): void {
    const peer = this.controllers[peripheral]!.publicAddress.bytes;
    this.command(central, OP.leCreateConnection, [
      ...u16(0x60),
      ...u16(0x30),
      0x00,
      0x00,
      ...peer,
      0x00,
      ...u16(0x06),
      ...u16(0x12),
      ...u16(0),
      ...u16(0x2a),
      ...u16(4),
      ...u16(6),
    ]);
  }

  /** Connects and returns both handles, with the hosts' queues emptied. */
  connect(central: number, peripheral: number): { central: number; peripheral: number } {
    this.powerOn(central);
    this.powerOn(peripheral);
    this.advertise(peripheral, [2, 1, 6]);
    this.createConnection(central, peripheral);
    for (let waited = 0; waited < 2000; waited += 5) {
      this.advance(5);
      const link = [...this.model.links][0];
      if (link?.peripheral) {
        this.takeHex(central);
        this.takeHex(peripheral);
        return { central: link.central.handle, peripheral: link.peripheral.handle };
      }
    }
    throw new Error('no connection within 2 s of air time');
  }
}

function pad32(data: number[]): number[] {
  return [data.length, ...data, ...new Array<number>(31 - data.length).fill(0)];
}
