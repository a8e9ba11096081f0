import { H4 } from './hci.js';

/** A packet a host sends its controller. */
export type HostPacket =
  | { kind: 'command'; opcode: number; params: Uint8Array }
  | { kind: 'acl'; handle: number; boundary: number; broadcast: number; data: Uint8Array };

/** A packet a controller sends its host. */
export type ControllerPacket =
  | { kind: 'event'; code: number; params: Uint8Array }
  | { kind: 'acl'; handle: number; boundary: number; broadcast: number; data: Uint8Array };

export interface H4DecoderStats {
  /** Packets decoded. */
  packets: number;
  /** Bytes skipped while looking for a packet start (not a known packet type, bad header). */
  skippedBytes: number;
  /** Incomplete packets thrown away after a pause in the stream. */
  abandonedPackets: number;
}

export type H4Side = 'host' | 'controller';
/** What a side sends. */
export type PacketFrom<Side extends H4Side> = Side extends 'host' ? HostPacket : ControllerPacket;

export interface H4DecoderOptions<Side extends H4Side> {
  /** Which side's packets this decodes. */
  from: Side;
  /** Longest ACL payload accepted (the controller's buffer size); default 251. */
  maxAclLength?: number;
  /**
   * An incomplete packet that sees no byte for this long is abandoned (ms, by the `now` given
   * to push). H4 has no resync marker: a host that died mid-packet would otherwise swallow the
   * first packets of the next one. Hosts write whole packets at once, so a pause inside one
   * means its sender is gone. Default 100.
   */
  abandonAfterMs?: number;
}

const HEADER_LENGTH: Record<number, number> = {
  [H4.command]: 3,
  [H4.acl]: 4,
  [H4.event]: 2,
};
const MAX_HANDLE = 0x0eff;

/**
 * Splits an H4 byte stream into packets. Never throws and holds at most one packet's bytes,
 * whatever arrives: a byte that cannot start a valid packet is skipped and counted, so a
 * garbled or hostile stream costs CPU in proportion to its length and no memory.
 */
export class H4Decoder<Side extends H4Side> {
  readonly stats: H4DecoderStats = { packets: 0, skippedBytes: 0, abandonedPackets: 0 };
  private readonly maxAclLength: number;
  private readonly abandonAfterMs: number;
  private pending = new Uint8Array(0);
  private lastByteAt = -Infinity;

  constructor(private readonly options: H4DecoderOptions<Side>) {
    this.maxAclLength = options.maxAclLength ?? 251;
    this.abandonAfterMs = options.abandonAfterMs ?? 100;
  }

  /** Bytes held for an incomplete packet. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Throws away the incomplete packet held (its sender is known to be gone). */
  abandon(): void {
    if (this.pending.length === 0) return;
    this.pending = new Uint8Array(0);
    this.stats.abandonedPackets++;
  }

  push(bytes: Uint8Array, now = 0): Array<PacketFrom<Side>> {
    if (this.pending.length > 0 && now - this.lastByteAt > this.abandonAfterMs) {
      this.pending = new Uint8Array(0);
      this.stats.abandonedPackets++;
    }
    if (bytes.length > 0) this.lastByteAt = now;
    let buffer = concat(this.pending, bytes);
    const packets: Array<PacketFrom<Side>> = [];
    let offset = 0;
    while (offset < buffer.length) {
      const verdict = this.frame(buffer, offset);
      if (verdict === 'incomplete') break;
      if (verdict === 'invalid') {
        offset++;
        this.stats.skippedBytes++;
        continue;
      }
      packets.push(verdict.packet as PacketFrom<Side>);
      offset += verdict.length;
      this.stats.packets++;
    }
    buffer = buffer.subarray(offset);
    // A copy, so the (possibly large) chunk it came from is not kept alive.
    this.pending = Uint8Array.from(buffer);
    return packets;
  }

  private frame(
    buffer: Uint8Array,
    offset: number,
  ): 'incomplete' | 'invalid' | { packet: HostPacket | ControllerPacket; length: number } {
    const type = buffer[offset]!;
    const allowed = this.options.from === 'host' ? [H4.command, H4.acl] : [H4.event, H4.acl];
    if (!(allowed as number[]).includes(type)) return 'invalid';
    const headerLength = HEADER_LENGTH[type]!;
    if (buffer.length - offset < 1 + headerLength) return 'incomplete';
    const view = new DataView(buffer.buffer, buffer.byteOffset + offset + 1, headerLength);
    if (type === H4.acl) {
      const word = view.getUint16(0, true);
      const handle = word & 0x0fff;
      const boundary = (word >> 12) & 0b11;
      const broadcast = word >> 14;
      const length = view.getUint16(2, true);
      // 0b11 is not a valid boundary on LE, and LE has no broadcast data.
      if (handle > MAX_HANDLE || boundary === 0b11 || broadcast !== 0) return 'invalid';
      if (length > this.maxAclLength) return 'invalid';
      const total = 1 + headerLength + length;
      if (buffer.length - offset < total) return 'incomplete';
      const data = copy(buffer, offset + 1 + headerLength, offset + total);
      return { packet: { kind: 'acl', handle, boundary, broadcast, data }, length: total };
    }
    const lengthAt = type === H4.command ? 2 : 1;
    const length = view.getUint8(lengthAt);
    const total = 1 + headerLength + length;
    if (buffer.length - offset < total) return 'incomplete';
    const params = copy(buffer, offset + 1 + headerLength, offset + total);
    if (type === H4.command) {
      return {
        packet: { kind: 'command', opcode: view.getUint16(0, true), params },
        length: total,
      };
    }
    return { packet: { kind: 'event', code: view.getUint8(0), params }, length: total };
  }
}

export function encodeCommand(opcode: number, params: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (params.length > 255) throw new RangeError(`command parameters over 255 bytes`);
  return Uint8Array.of(H4.command, opcode & 0xff, opcode >> 8, params.length, ...params);
}

export function encodeEvent(code: number, params: Uint8Array): Uint8Array {
  if (params.length > 255) throw new RangeError(`event parameters over 255 bytes`);
  const packet = new Uint8Array(3 + params.length);
  packet.set([H4.event, code, params.length]);
  packet.set(params, 3);
  return packet;
}

export function encodeAcl(handle: number, boundary: number, data: Uint8Array): Uint8Array {
  const packet = new Uint8Array(5 + data.length);
  const word = (handle & 0x0fff) | ((boundary & 0b11) << 12);
  packet.set([H4.acl, word & 0xff, word >> 8, data.length & 0xff, data.length >> 8]);
  packet.set(data, 5);
  return packet;
}

/** A packet back to H4 bytes (for traces and tests). */
export function encodePacket(packet: HostPacket | ControllerPacket): Uint8Array {
  switch (packet.kind) {
    case 'command':
      return encodeCommand(packet.opcode, packet.params);
    case 'event':
      return encodeEvent(packet.code, packet.params);
    case 'acl':
      return encodeAcl(packet.handle, packet.boundary, packet.data);
  }
}

// A copy in a plain Uint8Array: never a view into the (possibly pooled) chunk it came from.
function copy(buffer: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buffer.subarray(start, end));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
