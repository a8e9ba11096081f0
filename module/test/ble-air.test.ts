// The virtual BLE air with the real bleno (peripheral) and the real noble (central) in this
// process, each on its own virtual controller over a pty, as HCI UART hosts.
import type { EventEmitter } from 'node:events';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bleno } from '@stoprocent/bleno';
import { withBindings as blenoWithBindings } from '@stoprocent/bleno';
import type { Noble, Peripheral } from '@stoprocent/noble';
import { withBindings as nobleWithBindings } from '@stoprocent/noble';
import { afterEach, describe, expect, it } from 'vitest';
import type { HciPacketRecord, VirtualAirOptions } from '../sim/index.js';
import {
  demoCharacteristic,
  demoReply,
  findByName,
  parseBtsnoop,
  serveDemo,
  VirtualAir,
  writeAndAwaitNotification,
} from '../sim/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// Ten times faster than real time: a 22.5 ms connection interval takes 2.25 ms.
async function startAir(options: VirtualAirOptions = {}): Promise<VirtualAir> {
  const air = await VirtualAir.start({ timeScale: 0.1, ...options });
  cleanups.push(() => air.close());
  return air;
}

/**
 * Stops a host. Its UART driver closes the port even while a write is in flight; that write
 * then fails with EBADF and serialport emits 'error' on a port the driver has just taken its
 * listeners off: an uncaught exception (about 1 run in 200 under load, when a host is stopped
 * right after connecting). Nothing is lost, the host is stopping.
 */
function stopHost(host: Noble | Bleno): void {
  host.stop();
  type Internals = { _bindings?: { _hci?: { _socket?: { _serialDevice?: EventEmitter } } } };
  (host as unknown as Internals)._bindings?._hci?._socket?._serialDevice?.on('error', () => {});
}

async function peripheral(air: VirtualAir, index: number, name: string): Promise<Bleno> {
  const bleno = blenoWithBindings('hci', air.bindings(index));
  cleanups.push(() => stopHost(bleno));
  await serveDemo(bleno, { name });
  return bleno;
}

function central(air: VirtualAir, index: number): Noble {
  const noble = nobleWithBindings('hci', air.bindings(index));
  cleanups.push(() => stopHost(noble));
  return noble;
}

function record(air: VirtualAir): HciPacketRecord[] {
  const packets: HciPacketRecord[] = [];
  air.on('packet', (packet) => packets.push(packet));
  return packets;
}

/** Disconnection Complete reasons controller `index` gave its host. */
function disconnectReasons(packets: HciPacketRecord[], index: number): number[] {
  return packets.flatMap(({ controller, direction, packet }) =>
    controller === index &&
    direction === 'controllerToHost' &&
    packet.kind === 'event' &&
    packet.code === 0x05
      ? [packet.params[3]!]
      : [],
  );
}

function disconnected(target: Peripheral): Promise<unknown> {
  return new Promise((resolve) => target.once('disconnect', resolve));
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (const started = Date.now(); !condition();) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function connectedPair(options: VirtualAirOptions = {}) {
  const air = await startAir(options);
  const packets = record(air);
  const bleno = await peripheral(air, 0, 'MINI-42');
  const noble = central(air, 1);
  const target = await findByName(noble, 'MINI-42');
  await target.connectAsync();
  return { air, packets, bleno, noble, target };
}

describe('virtual BLE air with real noble and bleno in one process', () => {
  it('finds by name, reads, writes and gets a notification larger than one ACL packet', async () => {
    const { air, packets, target } = await connectedPair();
    expect(target.address).toBe(air.addresses[0]);
    expect(target.rssi).toBe(-59); // 1 m apart
    expect(air.connections()[0]?.intervalMs).toBe(22.5); // noble asks for 7.5-22.5 ms
    const characteristic = await demoCharacteristic(target);
    expect((await characteristic.readAsync()).toString()).toBe('MINI-42');
    await characteristic.subscribeAsync();
    const reply = await writeAndAwaitNotification(characteristic, Buffer.from([0x10, 0x20]));
    expect(reply).toEqual(demoReply(Uint8Array.of(0x10), 253)); // ATT MTU 256 - 3

    const acl = packets.filter((record) => record.packet.kind === 'acl');
    // bleno sent the 260-byte L2CAP PDU as two ACL packets (its buffer is 251)...
    const fromBleno = acl.filter((r) => r.controller === 0 && r.direction === 'hostToController');
    expect(fromBleno.map((r) => r.packet.kind === 'acl' && r.packet.data.length)).toContain(251);
    // ...hosts send starts as "first, non-flushable", and receive them as "first, flushable".
    const boundaries = (direction: string) =>
      new Set(
        acl
          .filter((r) => r.direction === direction)
          .map((r) => r.packet.kind === 'acl' && r.packet.boundary),
      );
    expect(boundaries('hostToController')).toEqual(new Set([0b00, 0b01]));
    expect(boundaries('controllerToHost')).toEqual(new Set([0b10, 0b01]));
  });

  it('disconnects and reconnects', async () => {
    const { bleno, noble, target, packets } = await connectedPair();
    const blenoSawIt = once(bleno, 'disconnect');
    await target.disconnectAsync();
    await blenoSawIt;
    expect(disconnectReasons(packets, 0)).toEqual([0x13]); // remote user terminated
    expect(disconnectReasons(packets, 1)).toEqual([0x16]); // terminated by local host

    const again = await findByName(noble, 'MINI-42');
    await again.connectAsync();
    expect((await (await demoCharacteristic(again)).readAsync()).toString()).toBe('MINI-42');
  });

  it('serves one central connected to two peripherals at once', async () => {
    const air = await startAir({ controllers: 3 });
    await peripheral(air, 0, 'MINI-A');
    await peripheral(air, 1, 'MINI-B');
    const noble = central(air, 2);
    const a = await findByName(noble, 'MINI-A');
    await a.connectAsync();
    const b = await findByName(noble, 'MINI-B');
    await b.connectAsync();
    const [onA, onB] = await Promise.all([demoCharacteristic(a), demoCharacteristic(b)]);
    await Promise.all([onA.subscribeAsync(), onB.subscribeAsync()]);
    const [replyA, replyB] = await Promise.all([
      writeAndAwaitNotification(onA, Buffer.of(1)),
      writeAndAwaitNotification(onB, Buffer.of(2)),
    ]);
    expect(replyA).toEqual(demoReply(Uint8Array.of(1), 253));
    expect(replyB).toEqual(demoReply(Uint8Array.of(2), 253));
    expect(
      air
        .connections()
        .map(({ central, peripheral }) => [central, peripheral])
        .sort(),
    ).toEqual([
      [2, 0],
      [2, 1],
    ]);
  });

  it('lets a central host restart on the same port and connect again', async () => {
    const air = await startAir();
    await peripheral(air, 0, 'MINI-42');
    const first = central(air, 1);
    await (await findByName(first, 'MINI-42')).connectAsync();
    stopHost(first);
    const second = central(air, 1);
    const target = await findByName(second, 'MINI-42');
    await target.connectAsync();
    expect((await (await demoCharacteristic(target)).readAsync()).toString()).toBe('MINI-42');
  });

  it('a central restarting while connected: the peripheral sees the old link time out', async () => {
    const air = await startAir();
    const packets = record(air);
    const bleno = await peripheral(air, 0, 'MINI-42');
    const first = central(air, 1);
    await (await findByName(first, 'MINI-42')).connectAsync();
    const oldLink = air.connections()[0]!;
    const blenoSawIt = once(bleno, 'disconnect');
    stopHost(first); // no Disconnect reaches the controller: the new host's Reset ends the link
    const second = central(air, 1);
    await second.waitForPoweredOnAsync();
    await blenoSawIt;
    expect(disconnectReasons(packets, 0)).toEqual([0x08]); // supervision timeout
    expect(disconnectReasons(packets, 1)).toEqual([]); // its controller left silently
    const target = await findByName(second, 'MINI-42');
    await target.connectAsync();
    expect((await (await demoCharacteristic(target)).readAsync()).toString()).toBe('MINI-42');
    // The old link is gone from the air (nothing of it kept): only the new one is left.
    const links = air.connections();
    expect(links).toHaveLength(1);
    expect(links[0]).toMatchObject({ central: 1, peripheral: 0, state: 'connected' });
    expect(links[0]!.centralHandle).not.toBe(oldLink.centralHandle);
  });

  it('writes a btsnoop trace per controller on request', async () => {
    const trace = await mkdtemp(join(tmpdir(), 'ble-trace-'));
    cleanups.push(() => rm(trace, { recursive: true, force: true }));
    const { target } = await connectedPair({ trace });
    await (await demoCharacteristic(target)).readAsync();
    const records = parseBtsnoop(await readFile(join(trace, 'ble-1.btsnoop')));
    const hex = records.map((record) => Buffer.from(record.packet).toString('hex'));
    expect(hex[0]).toBe('01030c00'); // the UART driver's Reset, written before the port opened
    expect(hex[1]).toBe('040e0401030c00');
    expect(hex.some((packet) => packet.startsWith('043e1301'))).toBe(true); // Connection Complete
    expect(records.some((record) => record.packet[0] === 0x02)).toBe(true); // ACL data
  });

  it('works in zero-latency mode', async () => {
    const { target } = await connectedPair({ timeScale: 0 });
    const characteristic = await demoCharacteristic(target);
    await characteristic.subscribeAsync();
    expect(await writeAndAwaitNotification(characteristic, Buffer.of(9))).toEqual(
      demoReply(Uint8Array.of(9), 253),
    );
  });
});

describe('faults, as both hosts see them', () => {
  it('a dropped connection: both hear Connection Timeout (0x08)', async () => {
    const { air, packets, bleno, target } = await connectedPair();
    const nobleSawIt = disconnected(target);
    const blenoSawIt = once(bleno, 'disconnect');
    expect(air.dropConnection(1, 0)).toBe(1);
    expect(await nobleSawIt).toBe(0x08);
    await blenoSawIt;
    expect(disconnectReasons(packets, 0)).toEqual([0x08]);
  });

  it('a refused connection: the central reports it failed to be established, bleno sees nothing', async () => {
    const air = await startAir();
    const bleno = await peripheral(air, 0, 'MINI-42');
    const accepted: string[] = [];
    bleno.on('accept', (address) => accepted.push(address));
    air.refuseConnections(0);
    const noble = central(air, 1);
    const target = await findByName(noble, 'MINI-42');
    const nobleSawIt = disconnected(target);
    await target.connectAsync();
    expect(await nobleSawIt).toBe(0x3e);
    expect(accepted).toEqual([]);
  });

  it('lost advertising reports: nothing found while all are lost, found once they get through', async () => {
    const air = await startAir();
    await peripheral(air, 0, 'MINI-42');
    const noble = central(air, 1);
    await noble.waitForPoweredOnAsync();
    air.setAdvertisingLoss(1);
    await noble.startScanningAsync([], false);
    await until(() => air.stats(1).advertisingLost >= 10, '10 lost advertising PDUs');
    expect(air.stats(1).advertisingReports).toBe(0);
    await noble.stopScanningAsync();
    air.setAdvertisingLoss(0);
    expect((await findByName(noble, 'MINI-42')).address).toBe(air.addresses[0]);
  });

  it('RSSI follows distance, in advertising reports and on the connection', async () => {
    const air = await startAir();
    air.setPosition(0, { x: 0, y: 10 }); // 10 m from controller 1
    air.setPosition(1, { x: 0, y: 0 });
    await peripheral(air, 0, 'MINI-42');
    const target = await findByName(central(air, 1), 'MINI-42');
    expect(target.rssi).toBe(-79);
    await target.connectAsync();
    air.setPosition(0, { x: 0, y: 2 });
    expect(await target.updateRssiAsync()).toBe(-65);
  });

  it('out of range: links time out on both sides and it is heard again when back', async () => {
    const { air, packets, bleno, noble, target } = await connectedPair();
    const nobleSawIt = disconnected(target);
    const blenoSawIt = once(bleno, 'disconnect');
    air.setOutOfRange(0);
    expect(await nobleSawIt).toBe(0x08);
    await blenoSawIt;
    expect(disconnectReasons(packets, 0)).toEqual([0x08]);
    // bleno advertises again, but nobody hears it.
    await noble.startScanningAsync([], false);
    const events = air.stats(0).advertisingEvents;
    await until(() => air.stats(0).advertisingEvents >= events + 5, '5 advertising events');
    expect(air.stats(1).advertisingReports).toBe(2); // the two before connecting
    await noble.stopScanningAsync();
    air.setOutOfRange(0, false);
    expect((await findByName(noble, 'MINI-42')).address).toBe(air.addresses[0]);
  });
});
