// The virtual BLE air with the real bleno and the real noble each in its own process, as on two
// devices: the air runs here, the hosts open their ptys as HCI UARTs.
import { afterEach, describe, expect, it } from 'vitest';
import type { HciPacketRecord } from '../sim/index.js';
import { BleHostProcess, demoReply, VirtualAir } from '../sim/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startAir(): Promise<VirtualAir> {
  const air = await VirtualAir.start({ timeScale: 0.1 });
  cleanups.push(() => air.close());
  return air;
}

async function startHost(kind: 'peripheral' | 'central', args: string[]): Promise<BleHostProcess> {
  const host = await BleHostProcess.start(kind, args);
  cleanups.push(() => host.kill('SIGKILL'));
  return host;
}

function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('virtual BLE air with noble and bleno in separate processes', () => {
  it('connects, reads, writes, notifies, disconnects and reconnects', async () => {
    const air = await startAir();
    const peripheral = await startHost('peripheral', ['--port', air.port(0), '--name', 'MINI-42']);
    const central = await startHost('central', ['--port', air.port(1)]);

    expect(await central.request('find', { name: 'MINI-42' })).toEqual({
      address: air.addresses[0],
      rssi: -59,
    });
    await central.request('connect');
    await peripheral.waitFor('accept', 5_000, (event) => event.address === air.addresses[1]);
    expect(await central.request('read')).toBe('MINI-42');
    expect(await central.request('exchange', { hex: '2a' })).toBe(
      demoReply(Uint8Array.of(0x2a), 253).toString('hex'),
    );
    await central.request('disconnect');
    await central.waitFor('disconnect', 5_000, (event) => event.reason === 0x16);
    await peripheral.waitFor('disconnect');

    await central.request('find', { name: 'MINI-42' });
    await central.request('connect');
    expect(await central.request('read')).toBe('MINI-42');
  });

  it('a peripheral host that crashes and restarts on the same port is found again', async () => {
    const air = await startAir();
    const packets: HciPacketRecord[] = [];
    air.on('packet', (record) => packets.push(record));
    const crashing = await startHost('peripheral', ['--port', air.port(0), '--name', 'MINI-42']);
    const central = await startHost('central', ['--port', air.port(1)]);
    await central.request('find', { name: 'MINI-42' });
    await central.request('connect');

    // A crash leaves the controller up and the link alive (as with a real UART controller)...
    await crashing.kill('SIGKILL');
    expect(air.connections().map((connection) => connection.state)).toEqual(['connected']);
    // ...until the next host resets it: the central then times out (Connection Timeout).
    const restarted = await startHost('peripheral', ['--port', air.port(0), '--name', 'MINI-42']);
    await central.waitFor('disconnect', 5_000, (event) => event.reason === 0x08);

    await central.request('find', { name: 'MINI-42' });
    await central.request('connect');
    expect(await central.request('read')).toBe('MINI-42');
    await restarted.waitFor('accept');
    const resets = packets.filter(
      (r) => r.controller === 0 && r.packet.kind === 'command' && r.packet.opcode === 0x0c03,
    );
    expect(resets.length).toBeGreaterThanOrEqual(2); // one per host start, at least
  });

  it('leaves no host process behind', async () => {
    const air = await startAir();
    const peripheral = await startHost('peripheral', ['--port', air.port(0)]);
    const pid = peripheral.pid;
    await peripheral.kill();
    expect(isRunning(pid)).toBe(false);
  });
});
