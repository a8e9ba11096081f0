// The HCI command surface of one virtual controller, checked as golden H4 bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { modelledCommands } from './commands.js';
import { encodePacket } from './h4.js';
import { OP } from './hci.js';
import { ModelHarness } from './model-harness.js';

function harness(): ModelHarness {
  return new ModelHarness({ controllers: 2 });
}

describe('HciController commands', () => {
  it('answers Reset with exactly the Command Complete the UART driver waits for', () => {
    const air = harness();
    air.host(0, Uint8Array.of(0x01, 0x03, 0x0c, 0x00));
    expect(air.takeHex(0)).toEqual(['040e0401030c00']);
    // Again, harmlessly (noble resets twice at start and before each first connection).
    air.command(0, OP.reset);
    expect(air.takeHex(0)).toEqual(['040e0401030c00']);
  });

  it('reports a 5.0 controller with a public address and LE buffers', () => {
    const air = harness();
    air.command(0, OP.readLocalVersion);
    air.command(0, OP.readBdAddr);
    air.command(0, OP.leReadBufferSize);
    air.command(0, OP.readBufferSize);
    expect(air.takeHex(0)).toEqual([
      '040e0c' + '01011000' + '09' + '0000' + '09' + 'ffff' + '0000',
      '040e0a' + '01091000' + '010000' + '00dec0',
      '040e07' + '01022000' + 'fb00' + '08',
      '040e0b' + '01051000' + 'fb00' + '00' + '0800' + '0000',
    ]);
  });

  it('offers Data Length Extension but not extended advertising (noble would switch)', () => {
    const air = harness();
    air.command(0, OP.leReadLocalFeatures);
    air.command(0, OP.leReadMaximumDataLength);
    expect(air.takeHex(0)).toEqual([
      '040e0c' + '01032000' + '2000000000000000',
      '040e0c' + '012f2000' + 'fb004808fb004808',
    ]);
  });

  it('lists the commands it supports', () => {
    const air = harness();
    air.command(0, OP.readLocalCommands);
    const [reply] = air.take(0);
    if (reply?.kind !== 'event') throw new Error('no event');
    const bitmap = reply.params.subarray(4);
    expect(bitmap).toHaveLength(64);
    expect(bitmap[5]).toBe(0xc0); // Set Event Mask, Reset
    expect(bitmap[26]).toBe(0x3f); // scan response data .. create connection cancel
  });

  it('answers unknown commands with Unknown HCI Command in a Command Status', () => {
    const air = harness();
    air.command(0, 0xfc01, [1, 2, 3]); // a vendor command
    air.command(0, OP.setEventFilter, [0]); // BR/EDR only
    air.command(0, OP.leStartEncryption, new Array<number>(28).fill(0));
    expect(air.takeHex(0)).toEqual([
      '040f040101 01fc'.replace(' ', ''),
      '040f040101050c',
      '040f0401011920',
    ]);
    expect(air.controllers[0]!.stats.unknownCommands).toBe(3);
  });

  it('answers a wrong parameter length with Invalid HCI Command Parameters', () => {
    const air = harness();
    air.command(0, OP.setEventMask, [0xff]);
    air.command(0, OP.disconnect, [0x40]);
    expect(air.takeHex(0)).toEqual(['040e0401010c12', '040f0412010604']);
  });

  it('validates advertising data and parameters, and refuses changes while advertising', () => {
    const air = harness();
    air.command(0, OP.leSetAdvertisingData, [32, ...new Array<number>(31).fill(0)]);
    air.command(
      0,
      OP.leSetAdvertisingParameters,
      [0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0],
    );
    const refused = air.takeHex(0);
    air.advertise(0, [2, 1, 6]);
    air.command(
      0,
      OP.leSetAdvertisingParameters,
      [0xa0, 0, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0],
    );
    expect([...refused, ...air.takeHex(0)]).toEqual([
      '040e0401082012',
      '040e0401062012',
      '040e040106200c',
    ]);
  });

  it('refuses scan parameters while scanning, and the accept list it does not model', () => {
    const air = harness();
    air.command(0, OP.leSetScanParameters, [1, 0x12, 0, 0x12, 0, 0, 1]);
    expect(air.takeHex(0)).toEqual(['040e04010b2011']);
    air.scan(0);
    air.command(0, OP.leSetScanParameters, [1, 0x12, 0, 0x12, 0, 0, 0]);
    air.command(0, OP.leSetScanEnable, [2, 0]);
    expect(air.takeHex(0)).toEqual(['040e04010b200c', '040e04010c2012']);
  });

  it('answers commands on unknown handles as the spec says', () => {
    const air = harness();
    air.command(0, OP.disconnect, [0x40, 0x00, 0x13]);
    air.command(0, OP.disconnect, [0x40, 0x00, 0x42]); // not a valid reason
    air.command(0, OP.readRssi, [0x40, 0x00]);
    air.command(0, OP.leSetDataLength, [0x40, 0, 0xfb, 0, 0x48, 0x08]);
    expect(air.takeHex(0)).toEqual([
      '040f0402010604',
      '040f0412010604',
      '040e07010514024000' + '00',
      '040e06012220024000',
    ]);
  });

  it('cancels a pending connection: Command Complete, then Connection Complete with 0x02', () => {
    const air = harness();
    air.powerOn(0);
    air.command(0, OP.leCreateConnectionCancel);
    expect(air.takeHex(0)).toEqual(['040e04010e200c']); // nothing to cancel
    air.createConnection(0, 1);
    air.command(0, OP.leCreateConnectionCancel);
    expect(air.takeHex(0)).toEqual([
      '040f0400010d20',
      '040e04010e2000',
      '043e1301' + '02' + '00'.repeat(17),
    ]);
  });

  it('masks LE events until the host enables them, as after a real Reset', () => {
    const air = harness();
    air.command(0, OP.reset);
    air.advertise(1, [2, 1, 6]);
    air.scan(0);
    air.advance(500);
    expect(air.takeHex(0)).toEqual([]); // LE Meta is off in the default event mask
    air.powerOn(0);
    air.scan(0);
    air.advance(500);
    expect(air.take(0).length).toBeGreaterThan(0);
  });

  it('reports a host that ignores flow control with Data Buffer Overflow, keeping nothing', () => {
    const air = new ModelHarness({ aclBufferCount: 2 });
    const { central } = air.connect(0, 1);
    for (let packet = 0; packet < 3; packet++) air.acl(0, central, 0, [1, 0, 4, 0, 9]);
    expect(air.takeHex(0)).toEqual(['041a0101']);
    expect(air.controllers[0]!.stats.aclDropped).toBe(1);
  });
});

describe('HciController under hostile hosts', () => {
  const modelled = [...modelledCommands()];
  const command = fc.oneof(
    // A modelled command with parameters of the right length and any content...
    fc.constantFrom(...modelled).chain(([opcode, length]) =>
      fc.record({
        kind: fc.constant('command' as const),
        opcode: fc.constant(opcode),
        params: fc.uint8Array({ minLength: length, maxLength: length }),
      }),
    ),
    // ...or anything at all.
    fc.record({
      kind: fc.constant('command' as const),
      opcode: fc.integer({ min: 0, max: 0xffff }),
      params: fc.uint8Array({ maxLength: 40 }),
    }),
  );
  const acl = fc.record({
    kind: fc.constant('acl' as const),
    handle: fc.integer({ min: 0x3e, max: 0x44 }),
    boundary: fc.constantFrom(0, 1, 2),
    broadcast: fc.constant(0),
    data: fc.uint8Array({ maxLength: 251 }),
  });
  const step = fc.record({
    controller: fc.integer({ min: 0, max: 2 }),
    packet: fc.oneof(command, acl),
    advanceMs: fc.integer({ min: 0, max: 300 }),
  });

  it('never throws and keeps links, timers and buffers bounded, whatever the hosts send', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
        const air = new ModelHarness({ controllers: 3 });
        for (const { controller, packet, advanceMs } of steps) {
          air.host(controller, encodePacket(packet));
          air.advance(advanceMs);
          air.takeHex(controller);
        }
        air.advance(60_000); // every supervision timeout has passed
        expect(air.model.links.size).toBeLessThanOrEqual(24);
        expect(air.clock.pendingTimers).toBeLessThanOrEqual(10);
        for (const controller of air.controllers) {
          expect(controller.bufferedTotal()).toBeLessThanOrEqual(8);
        }
      }),
      { numRuns: 200 },
    );
  });
});
