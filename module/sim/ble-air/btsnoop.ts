import { closeSync, openSync, writeSync } from 'node:fs';

// btsnoop (RFC 1761 style, as written by Android and BlueZ's btmon): a 16-byte header, then
// one record per packet; everything big-endian. Datalink 1002 is "HCI UART (H4)": each record
// holds the packet with its H4 type byte.
const MAGIC = Buffer.from('btsnoop\0', 'latin1');
const VERSION = 1;
const DATALINK_H4 = 1002;
// Microseconds from 0 AD to the Unix epoch, btsnoop's time base.
const EPOCH_DELTA_US = 0x00dcddb30f2f8000n;

export type TraceDirection = 'hostToController' | 'controllerToHost';

/** Writes an HCI trace that Wireshark opens (File > Open, "BTSNOOP"). */
export class BtsnoopWriter {
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
    const header = Buffer.alloc(16);
    MAGIC.copy(header, 0);
    header.writeUInt32BE(VERSION, 8);
    header.writeUInt32BE(DATALINK_H4, 12);
    writeSync(this.fd, header);
  }

  /** `packet` starts with its H4 type byte; `unixMicros` is the packet's time. */
  write(direction: TraceDirection, packet: Uint8Array, unixMicros: number): void {
    if (this.fd === undefined || packet.length === 0) return;
    const record = Buffer.alloc(24 + packet.length);
    record.writeUInt32BE(packet.length, 0); // original length
    record.writeUInt32BE(packet.length, 4); // included length
    const received = direction === 'controllerToHost' ? 1 : 0;
    const commandOrEvent = packet[0] === 0x01 || packet[0] === 0x04 ? 2 : 0;
    record.writeUInt32BE(received | commandOrEvent, 8);
    record.writeUInt32BE(0, 12); // cumulative drops
    record.writeBigUInt64BE(BigInt(Math.round(unixMicros)) + EPOCH_DELTA_US, 16);
    record.set(packet, 24);
    writeSync(this.fd, record);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface BtsnoopRecord {
  direction: TraceDirection;
  packet: Uint8Array;
  unixMicros: number;
}

/** Reads a trace back (for tests and tools); throws on anything that is not btsnoop H4. */
export function parseBtsnoop(file: Uint8Array): BtsnoopRecord[] {
  const buffer = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buffer.length < 16 || !buffer.subarray(0, 8).equals(MAGIC)) {
    throw new Error('not a btsnoop file (bad magic)');
  }
  if (buffer.readUInt32BE(12) !== DATALINK_H4) throw new Error('btsnoop datalink is not H4');
  const records: BtsnoopRecord[] = [];
  for (let offset = 16; offset + 24 <= buffer.length;) {
    const length = buffer.readUInt32BE(offset + 4);
    const flags = buffer.readUInt32BE(offset + 8);
    const stamp = buffer.readBigUInt64BE(offset + 16) - EPOCH_DELTA_US;
    const packet = Uint8Array.from(buffer.subarray(offset + 24, offset + 24 + length));
    if (packet.length !== length) throw new Error('btsnoop file ends inside a record');
    records.push({
      direction: flags & 1 ? 'controllerToHost' : 'hostToController',
      packet,
      unixMicros: Number(stamp),
    });
    offset += 24 + length;
  }
  return records;
}
