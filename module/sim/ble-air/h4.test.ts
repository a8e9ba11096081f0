import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HostPacket } from './h4.js';
import { encodeAcl, encodeCommand, encodeEvent, encodePacket, H4Decoder } from './h4.js';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');

// The largest packets either side can send: command 1+3+255, ACL 1+4+251.
const MAX_PACKET = 260;

describe('H4 codec', () => {
  it('encodes the golden packets hosts and controllers exchange', () => {
    // HCI Reset, exactly what the UART driver writes before the port is even open.
    expect(hex(encodeCommand(0x0c03))).toBe('01030c00');
    // Its Command Complete, the one pattern the driver waits for (1 command credit).
    expect(hex(encodeEvent(0x0e, bytes('01 030c 00')))).toBe('040e0401030c00');
    // LE Set Scan Enable (enable, filter duplicates).
    expect(hex(encodeCommand(0x200c, bytes('0101')))).toBe('010c20020101');
    // An ATT Exchange MTU request from noble: handle 0x0040, "first, non-flushable".
    expect(hex(encodeAcl(0x0040, 0b00, bytes('0300 0400 02 0001')))).toBe(
      '024000070003000400020001',
    );
    // The same delivered up as "first, flushable".
    expect(hex(encodeAcl(0x0040, 0b10, bytes('0300 0400 02 0001')))).toBe(
      '024020070003000400020001',
    );
  });

  it('decodes golden host packets, including several in one chunk', () => {
    const decoder = new H4Decoder({ from: 'host' });
    const stream = bytes('01030c00 010c20020101 024000070003000400020001');
    expect(decoder.push(stream)).toEqual([
      { kind: 'command', opcode: 0x0c03, params: bytes('') },
      { kind: 'command', opcode: 0x200c, params: bytes('0101') },
      { kind: 'acl', handle: 0x40, boundary: 0, broadcast: 0, data: bytes('03000400020001') },
    ]);
    expect(decoder.stats).toEqual({ packets: 3, skippedBytes: 0, abandonedPackets: 0 });
  });

  it('decodes golden controller packets byte by byte', () => {
    const decoder = new H4Decoder({ from: 'controller' });
    const stream = bytes('040e0401030c00 02402007000300040002f000');
    const packets = [...stream].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
    expect(packets).toEqual([
      { kind: 'event', code: 0x0e, params: bytes('01030c00') },
      { kind: 'acl', handle: 0x40, boundary: 0b10, broadcast: 0, data: bytes('0300040002f000') },
    ]);
  });

  it('skips bytes that cannot start a packet and resyncs on the next one', () => {
    const decoder = new H4Decoder({ from: 'host' });
    // Garbage, an event (hosts never send events), an ACL with a reserved boundary, a command.
    const stream = bytes('ff 00 77 040e00 02403000 01030c00');
    const packets = decoder.push(stream);
    expect(packets).toEqual([{ kind: 'command', opcode: 0x0c03, params: bytes('') }]);
    expect(decoder.stats.skippedBytes).toBe(stream.length - 4);
  });

  it('refuses ACL longer than the controller buffer', () => {
    const decoder = new H4Decoder({ from: 'host', maxAclLength: 27 });
    const tooLong = encodeAcl(0x40, 0, new Uint8Array(28));
    expect(decoder.push(Uint8Array.of(...tooLong, ...encodeCommand(0x0c03)))).toEqual([
      { kind: 'command', opcode: 0x0c03, params: bytes('') },
    ]);
  });

  it('abandons a half packet after a pause, so a restarted host is heard from its first Reset', () => {
    const decoder = new H4Decoder({ from: 'host', abandonAfterMs: 100 });
    // A host died after writing half of an ACL packet announcing 200 bytes.
    expect(decoder.push(bytes('024000c800 0102'), 1_000)).toEqual([]);
    expect(decoder.pendingBytes).toBe(7);
    // Its successor opens the port a second later and resets.
    expect(decoder.push(encodeCommand(0x0c03), 2_000)).toEqual([
      { kind: 'command', opcode: 0x0c03, params: bytes('') },
    ]);
    expect(decoder.stats.abandonedPackets).toBe(1);
  });

  it('keeps a packet split across chunks that arrive close together', () => {
    const decoder = new H4Decoder({ from: 'host', abandonAfterMs: 100 });
    expect(decoder.push(bytes('010c2002'), 1_000)).toEqual([]);
    expect(decoder.push(bytes('0101'), 1_050)).toHaveLength(1);
  });
});

const hostPacket: fc.Arbitrary<HostPacket> = fc.oneof(
  fc.record({
    kind: fc.constant('command' as const),
    opcode: fc.integer({ min: 0, max: 0xffff }),
    params: fc.uint8Array({ maxLength: 255 }),
  }),
  fc.record({
    kind: fc.constant('acl' as const),
    handle: fc.integer({ min: 0, max: 0x0eff }),
    boundary: fc.constantFrom(0, 1, 2),
    broadcast: fc.constant(0),
    data: fc.uint8Array({ maxLength: 251 }),
  }),
);

/** Cuts a byte stream into chunks at the given points. */
function chunk(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, stream.length]) {
    chunks.push(stream.subarray(from, point));
    from = point;
  }
  return chunks;
}

describe('H4 decoder under fuzzing', () => {
  it('never throws and never holds more than one packet, whatever arrives', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 30 }), (chunks) => {
        for (const from of ['host', 'controller'] as const) {
          const decoder = new H4Decoder({ from });
          for (const piece of chunks) {
            decoder.push(piece);
            expect(decoder.pendingBytes).toBeLessThan(MAX_PACKET);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('returns exactly the packets sent, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(hostPacket, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (packets, cuts) => {
          const stream = Uint8Array.from(packets.flatMap((packet) => [...encodePacket(packet)]));
          const decoder = new H4Decoder({ from: 'host' });
          const decoded = chunk(stream, cuts).flatMap((piece) => decoder.push(piece));
          expect(decoded).toEqual(packets);
          expect(decoder.stats.skippedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds valid packets again after garbage once the garbage is paused out', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(hostPacket, { minLength: 1, maxLength: 5 }),
        (garbage, packets) => {
          const decoder = new H4Decoder({ from: 'host', abandonAfterMs: 100 });
          decoder.push(garbage, 0);
          const stream = Uint8Array.from(packets.flatMap((packet) => [...encodePacket(packet)]));
          // A pause, as between a crashed writer and the next host.
          expect(decoder.push(stream, 1_000)).toEqual(packets);
        },
      ),
      { numRuns: 300 },
    );
  });
});
