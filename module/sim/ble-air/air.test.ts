// The air between virtual controllers, on a manual clock: what each host would see, and when.
import { describe, expect, it } from 'vitest';
import type { ControllerPacket } from './h4.js';
import { OP } from './hci.js';
import { ModelHarness } from './model-harness.js';

type Event = Extract<ControllerPacket, { kind: 'event' }>;
const events = (packets: ControllerPacket[]) =>
  packets.filter((p): p is Event => p.kind === 'event');
const leEvents = (packets: ControllerPacket[], subevent: number) =>
  events(packets).filter((event) => event.code === 0x3e && event.params[0] === subevent);
const disconnections = (packets: ControllerPacket[]) =>
  events(packets)
    .filter((event) => event.code === 0x05)
    .map((event) => ({
      handle: event.params[1]! | (event.params[2]! << 8),
      reason: event.params[3],
    }));
const acl = (packets: ControllerPacket[]) => packets.filter((p) => p.kind === 'acl');
const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');

describe('advertising and scanning', () => {
  it('gives an active scanner one report and one scan response per scan session', () => {
    const air = new ModelHarness();
    air.powerOn(0);
    air.powerOn(1);
    air.advertise(1, [2, 1, 6], [8, 8, 0x4d, 0x49, 0x4e, 0x49, 0x2d, 0x34, 0x32]);
    air.scan(0);
    air.advance(1_000);
    const reports = leEvents(air.take(0), 0x02).map((event) => hex(event.params));
    expect(reports).toEqual([
      // ADV_IND from c0:de:00:00:00:02 (public), flags, RSSI -59 dBm at 1 m
      '0201' + '00' + '00' + '020000' + '00dec0' + '03020106' + 'c5',
      // SCAN_RSP with the complete local name
      '0201' + '04' + '00' + '020000' + '00dec0' + '0908084d494e492d3432' + 'c5',
    ]);
    // A new session (disable, enable) reports again.
    air.command(0, OP.leSetScanEnable, [0, 1]);
    air.command(0, OP.leSetScanEnable, [1, 1]);
    air.advance(1_000);
    expect(leEvents(air.take(0), 0x02)).toHaveLength(2);
  });

  it('reports every advertising event without duplicate filtering, at the advertising interval', () => {
    const air = new ModelHarness();
    air.powerOn(0);
    air.powerOn(1);
    air.advertise(1, [2, 1, 6], [], 100);
    air.scan(0, { active: false, filterDuplicates: false });
    air.advance(1_000);
    // 100 ms plus 0-10 ms of advDelay per event: 9 or 10 events in a second, no scan responses.
    const reports = leEvents(air.take(0), 0x02);
    expect(reports.length).toBeGreaterThanOrEqual(9);
    expect(reports.length).toBeLessThanOrEqual(10);
    expect(reports.every((report) => report.params[2] === 0x00)).toBe(true);
  });

  it('reports RSSI by distance and nothing beyond range or when reports are lost', () => {
    const air = new ModelHarness();
    air.powerOn(0);
    air.powerOn(1);
    air.advertise(1, [2, 1, 6]);
    air.model.setPosition(air.controllers[1]!, { x: 10, y: 0 }); // 10 m from controller 0
    air.scan(0, { filterDuplicates: false });
    air.advance(300);
    const rssi = leEvents(air.take(0), 0x02).map((event) => (event.params.at(-1)! << 24) >> 24);
    expect(new Set(rssi)).toEqual(new Set([-79]));

    air.model.setPosition(air.controllers[1]!, { x: 100, y: 0 });
    air.advance(300);
    expect(air.take(0)).toEqual([]);
    air.model.setPosition(air.controllers[1]!, { x: 1, y: 0 });
    air.model.conditions.advertisingLossRate = 1;
    air.advance(300);
    expect(air.take(0)).toEqual([]);
  });
});

describe('connections', () => {
  it('creates the connection at an advertising event, with roles and handles on both sides', () => {
    const air = new ModelHarness();
    air.powerOn(0);
    air.powerOn(1);
    air.advertise(1, [2, 1, 6]);
    air.createConnection(0, 1);
    expect(air.takeHex(0)).toEqual(['040f0400010d20']);
    air.advance(1_000);
    // Central: handle 0x0040, role central, peer c0:de:00:00:00:02, 22.5 ms, latency 0, 420 ms.
    expect(air.takeHex(0)).toEqual([
      '043e13' +
        '01' +
        '00' +
        '4000' +
        '00' +
        '00' +
        '02000000dec0' +
        '1200' +
        '0000' +
        '2a00' +
        '00',
    ]);
    expect(air.takeHex(1)).toEqual([
      '043e13' +
        '01' +
        '00' +
        '4000' +
        '01' +
        '00' +
        '01000000dec0' +
        '1200' +
        '0000' +
        '2a00' +
        '00',
    ]);
    // Connectable advertising ends with the connection.
    expect(air.controllers[1]!.advertising.enabled).toBe(false);
  });

  it('moves ACL only at connection events, rewriting the start flag, and frees buffers', () => {
    const air = new ModelHarness();
    const handles = air.connect(0, 1);
    const link = [...air.model.links][0]!;
    // Just after a connection event.
    for (const counter = link.eventCounter; link.eventCounter === counter;) air.advance(0.25);
    air.advance(1);
    air.acl(0, handles.central, 0b00, [3, 0, 4, 0, 2, 0, 1]); // "first, non-flushable" from noble
    air.advance(20);
    expect(air.take(1)).toEqual([]);
    const before = link.eventCounter;
    air.advance(3);
    expect(link.eventCounter).toBe(before + 1);
    const [delivered] = air.take(1);
    expect(delivered).toEqual({
      kind: 'acl',
      handle: handles.peripheral,
      boundary: 0b10,
      broadcast: 0,
      data: Uint8Array.of(3, 0, 4, 0, 2, 0, 1),
    });
    // Number Of Completed Packets: one packet on handle 0x0040.
    expect(air.takeHex(0)).toEqual(['041305014000' + '0100']);
  });

  it('splits a long packet into 27-octet PDUs until Data Length Extension widens them', () => {
    const air = new ModelHarness({ zeroLatency: true });
    const handles = air.connect(0, 1);
    const data = Array.from({ length: 100 }, (_, i) => i);
    air.acl(1, handles.peripheral, 0b00, data);
    air.advance(1);
    const pieces = acl(air.take(0));
    expect(pieces.map((piece) => [piece.boundary, piece.data.length])).toEqual([
      [0b10, 27],
      [0b01, 27],
      [0b01, 27],
      [0b01, 19],
    ]);
    expect(Uint8Array.from(pieces.flatMap((piece) => [...piece.data]))).toEqual(
      Uint8Array.from(data),
    );

    air.command(1, OP.leSetDataLength, [handles.peripheral, 0, 0xfb, 0, 0x48, 0x08]);
    air.advance(1);
    expect(leEvents(air.take(1), 0x07).map((event) => hex(event.params))).toEqual([
      '074000fb004808' + '1b004801',
    ]);
    air.acl(1, handles.peripheral, 0b00, data);
    air.advance(1);
    expect(acl(air.take(0)).map((piece) => piece.data.length)).toEqual([100]);
  });

  it('disconnects both hosts: the peer hears the reason, the local host 0x16', () => {
    const air = new ModelHarness();
    const handles = air.connect(0, 1);
    air.command(0, OP.disconnect, [handles.central, 0, 0x13]);
    expect(air.takeHex(0)).toEqual(['040f0400010604']);
    air.advance(30);
    expect(disconnections(air.take(0))).toEqual([{ handle: handles.central, reason: 0x16 }]);
    expect(disconnections(air.take(1))).toEqual([{ handle: handles.peripheral, reason: 0x13 }]);
    expect(air.model.links.size).toBe(0);
  });

  it('applies a connection update at its instant and tells both hosts', () => {
    const air = new ModelHarness();
    const handles = air.connect(0, 1);
    // 30-50 ms, latency 0, 4 s timeout; the link takes the largest interval.
    air.command(0, OP.leConnectionUpdate, [
      handles.central,
      0,
      24,
      0,
      40,
      0,
      0,
      0,
      0x90,
      0x01,
      0,
      0,
      0,
      0,
    ]);
    expect(air.takeHex(0)).toEqual(['040f0400011320']);
    air.advance(22.5 * 8);
    const update = '03' + '00' + '4000' + '2800' + '0000' + '9001';
    expect(leEvents(air.take(0), 0x03).map((event) => hex(event.params))).toEqual([update]);
    expect(leEvents(air.take(1), 0x03)).toHaveLength(1);
    expect([...air.model.links][0]!.parameters.intervalMs).toBe(50);
  });
});

describe('faults', () => {
  it('drops a connection: both hosts hear Connection Timeout after the supervision timeout', () => {
    const air = new ModelHarness();
    const handles = air.connect(0, 1);
    expect(air.model.dropLinks(air.controllers[0]!, air.controllers[1]!)).toBe(1);
    air.advance(419);
    expect(air.take(0)).toEqual([]);
    air.advance(2);
    expect(disconnections(air.take(0))).toEqual([{ handle: handles.central, reason: 0x08 }]);
    expect(disconnections(air.take(1))).toEqual([{ handle: handles.peripheral, reason: 0x08 }]);
  });

  it('refuses a connection: the central fails to establish it, the peripheral hears nothing', () => {
    const air = new ModelHarness();
    air.model.conditions.setRefusing(air.controllers[1]!, true);
    air.powerOn(0);
    air.powerOn(1);
    air.advertise(1, [2, 1, 6]);
    air.createConnection(0, 1);
    air.advance(2_000);
    const central = air.take(0);
    expect(leEvents(central, 0x01)).toHaveLength(1);
    expect(disconnections(central)).toEqual([{ handle: 0x40, reason: 0x3e }]);
    expect(air.take(1)).toEqual([]);
    expect(air.controllers[1]!.advertising.enabled).toBe(true);
  });

  it('takes a controller out of range: its links time out and it is heard no more', () => {
    const air = new ModelHarness();
    air.connect(0, 1);
    air.model.setShielded(air.controllers[1]!, true);
    air.advance(500);
    expect(disconnections(air.take(0))).toHaveLength(1);
    expect(disconnections(air.take(1))).toHaveLength(1);
  });

  it('a host resetting its controller leaves silently; the peer times out', () => {
    const air = new ModelHarness();
    air.connect(0, 1);
    air.command(1, OP.reset);
    expect(air.takeHex(1)).toEqual(['040e0401030c00']);
    air.advance(500);
    expect(air.take(1)).toEqual([]);
    expect(disconnections(air.take(0))).toEqual([{ handle: 0x40, reason: 0x08 }]);
  });

  it('keeps ACL for a dead link in the buffers only until it ends, and drops unknown handles', () => {
    const air = new ModelHarness();
    const handles = air.connect(0, 1);
    air.model.dropLinks(air.controllers[0]!, air.controllers[1]!);
    air.acl(0, handles.central, 0, [1, 0, 4, 0, 9]);
    air.acl(0, 0x0123, 0, [1, 0, 4, 0, 9]);
    expect(air.controllers[0]!.bufferedTotal()).toBe(1);
    air.advance(500);
    expect(air.controllers[0]!.bufferedTotal()).toBe(0);
    expect(air.controllers[0]!.stats.aclDropped).toBe(1);
  });
});
