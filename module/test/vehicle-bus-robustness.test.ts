// The vehicle bus's edges: bad input from a client, a bus that goes away and comes back, a bus
// that answers wrongly or not at all, and clients that leave.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatedCar } from '../sim/index.js';
import { SimClock, VehicleBusServer, startSimulatedCar } from '../sim/index.js';
import { HalError } from '../src/hal/index.js';
import type { SimHal } from '../src/hal/sim/index.js';
import { BusClient, openSimHal } from '../src/hal/sim/index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vehicle-bus-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startCar(socketPath?: string): Promise<SimulatedCar> {
  const car = await startSimulatedCar({
    fleetVehicle: exampleFleet().vehicles[0]!, // the 5GE Cooper SE
    socketPath: socketPath ?? join(await tempDir(), 'bus.sock'),
    clock: { startMs: Date.UTC(2025, 0, 1), timeScale: 0 },
  });
  cleanups.push(() => car.close());
  return car;
}

async function openHal(socketPath: string, requestTimeoutMs = 2000): Promise<SimHal> {
  const hal = await openSimHal({ socketPath, requestTimeoutMs });
  cleanups.push(() => hal.close());
  return hal;
}

/** A raw client: writes any bytes, reads the answers line by line. */
async function rawClient(path: string) {
  const socket = createConnection(path);
  await new Promise((resolve) => socket.once('connect', resolve));
  const lines: unknown[] = [];
  const waiting: Array<(line: unknown) => void> = [];
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      const line: unknown = JSON.parse(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  cleanups.push(async () => {
    socket.destroy();
    await closed;
  });
  return {
    socket,
    send: (data: string | Uint8Array) => socket.write(data),
    next: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift())
        : new Promise<unknown>((resolve) => waiting.push(resolve)),
  };
}

async function halError(promise: Promise<unknown>): Promise<HalError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HalError);
  return error as HalError;
}

describe('vehicle bus: bad input', () => {
  it('answers every malformed line with a clear error and changes nothing', async () => {
    const car = await startCar();
    const rejected: string[] = [];
    car.bus.on('rejected', ({ code }) => rejected.push(code));
    const client = await rawClient(car.socketPath);
    const before = car.vehicle.snapshot();

    const cases: Array<[string | Uint8Array, unknown]> = [
      ['this is not json\n', { id: null, error: { code: 'malformed-message' } }],
      [
        Uint8Array.of(0x22, 0xc3, 0x28, 0x22, 0x0a),
        { id: null, error: { code: 'malformed-message' } },
      ],
      ['[1,2,3]\n', { id: null, error: { code: 'invalid-request' } }],
      ['{"id":"7","method":"unlock"}\n', { id: null, error: { code: 'invalid-request' } }],
      ['{"id":1,"method":"fly"}\n', { id: 1, error: { code: 'unknown-method' } }],
      [
        '{"id":2,"method":"unlock","params":{"force":1}}\n',
        { id: 2, error: { code: 'invalid-params' } },
      ],
      [
        '{"id":3,"method":"clock.set","params":{"nowMs":"soon"}}\n',
        { id: 3, error: { code: 'invalid-params' } },
      ],
      ['{"id":4,"method":"unlock","sudo":true}\n', { id: 4, error: { code: 'invalid-request' } }],
      [
        `{"id":5,"method":"unlock","pad":"${'x'.repeat(70_000)}"}\n`,
        { id: null, error: { code: 'line-too-long' } },
      ],
    ];
    for (const [line, expected] of cases) {
      client.send(line);
      const answer = await client.next();
      expect(answer).toMatchObject(expected as object);
      expect((answer as { error: { message: string } }).error.message.length).toBeGreaterThan(5);
    }
    expect(rejected).toHaveLength(cases.length);

    // Still the same car, and the same connection still works.
    expect(car.vehicle.snapshot()).toEqual(before);
    client.send('{"id":9,"method":"state.read"}\n');
    expect(await client.next()).toMatchObject({ id: 9, result: { locked: true } });
  });

  it('a line that never ends is dropped as it arrives, not buffered', async () => {
    const car = await startCar();
    const client = await rawClient(car.socketPath);
    const chunk = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 64; i++) client.send(chunk); // 1 MiB, no newline
    expect(await client.next()).toMatchObject({ error: { code: 'line-too-long' } });
    client.send('\n{"id":1,"method":"supply.read"}\n');
    expect(await client.next()).toMatchObject({ id: 1, result: { millivolts: 12_600 } });
  });
});

describe('vehicle bus: connections come and go', () => {
  it('the HAL reconnects when the bus comes back, and a request made meanwhile goes through', async () => {
    const dir = await tempDir();
    const socketPath = join(dir, 'bus.sock');
    const car = await startCar(socketPath);
    const hal = await openHal(socketPath);
    const changes: boolean[] = [];
    hal.bus.onConnection((change) => changes.push(change.connected));

    await car.bus.close();
    expect(existsSync(socketPath)).toBe(false);
    await expect.poll(() => hal.bus.connected).toBe(false);
    const pending = hal.vehicle.unlock(); // waits for the bus

    const server = await VehicleBusServer.listen({
      path: socketPath,
      vehicle: car.vehicle,
      clock: car.clock,
    });
    cleanups.push(() => server.close());
    expect((await pending).locked).toBe(false);
    expect(changes).toEqual([false, true]);
    expect(hal.bus.stats.connections).toBe(2);
  });

  it('serves several connections at once; each hears every event', async () => {
    const car = await startCar();
    const [first, second] = [await openHal(car.socketPath), await openHal(car.socketPath)];
    const heard = [first, second].map(
      (hal) =>
        new Promise((resolve) =>
          hal.vehicle.onEvent((event) => {
            if (event.type === 'keys') resolve(event.keysInCabin);
          }),
        ),
    );
    car.vehicle.setKeysInCabin(2);
    expect(await Promise.all(heard)).toEqual([2, 2]);
    expect(car.bus.connectionCount).toBe(2);
    await first.close();
    expect((await second.vehicle.readState()).keysInCabin).toBe(2);
  });

  it('without a bus, start-up fails with bus-unavailable', async () => {
    const dir = await tempDir();
    const error = await halError(
      openSimHal({ socketPath: join(dir, 'nothing.sock'), connectTimeoutMs: 200 }),
    );
    expect(error.code).toBe('bus-unavailable');
    expect(error.message).toContain('nothing.sock');
  });

  it('clients that leave leave nothing behind', async () => {
    const car = await startCar();
    const listeners = () =>
      (['doors', 'lock', 'ignition', 'speed', 'supply', 'power'] as const).map((event) =>
        car.vehicle.listenerCount(event),
      );
    const before = listeners();
    for (let i = 0; i < 10; i++) {
      const hal = await openSimHal({ socketPath: car.socketPath });
      await hal.vehicle.readState();
      await hal.close();
      const raw = createConnection(car.socketPath);
      raw.write('{"id":1,"method":"unl');
      raw.destroy();
    }
    await expect.poll(() => car.bus.connectionCount).toBe(0);
    expect(listeners()).toEqual(before);
    await car.close();
    expect(listeners().every((count) => count === 0)).toBe(true);
    expect(existsSync(car.socketPath)).toBe(false);
  });

  it('replaces a stale socket file, but not a live bus or another file', async () => {
    const dir = await tempDir();
    const socketPath = join(dir, 'bus.sock');
    const first = await startCar(socketPath);
    const clock = new SimClock({ timeScale: 0 });
    cleanups.push(async () => clock.close());
    await expect(
      VehicleBusServer.listen({ path: socketPath, vehicle: first.vehicle, clock }),
    ).rejects.toThrow(/in use/);
    const notSocket = join(dir, 'file');
    await writeFile(notSocket, 'precious');
    await expect(
      VehicleBusServer.listen({ path: notSocket, vehicle: first.vehicle, clock }),
    ).rejects.toThrow(/not a socket/);
  });
});

/** A bus that answers hello and clock.read, and does `onOther` with anything else. */
async function fakeBus(onOther: (socket: Socket, request: { id: number; method: string }) => void) {
  const path = join(await tempDir(), 'fake.sock');
  const server: Server = createServer((socket) => {
    let buffered = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        const request = JSON.parse(buffered.slice(0, at)) as { id: number; method: string };
        buffered = buffered.slice(at + 1);
        if (request.method === 'hello') {
          socket.write(`${JSON.stringify({ id: request.id, result: { protocolVersion: 1 } })}\n`);
        } else if (request.method === 'clock.read') {
          const result = { nowMs: 1e12, timeScale: 1, timeKnown: true };
          socket.write(`${JSON.stringify({ id: request.id, result })}\n`);
        } else {
          onOther(socket, request);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return path;
}

describe('vehicle bus: a bus that answers wrongly or not at all', () => {
  it('no answer in time: timeout', async () => {
    const path = await fakeBus(() => undefined);
    const hal = await openHal(path, 150);
    expect((await halError(hal.vehicle.readState())).code).toBe('timeout');
  });

  it('the connection drops in flight: disconnected', async () => {
    const path = await fakeBus((socket) => socket.destroy());
    const hal = await openHal(path);
    expect((await halError(hal.vehicle.lock())).code).toBe('disconnected');
  });

  it('an answer that breaks the schema: bad-response, and the next request still works', async () => {
    let calls = 0;
    const path = await fakeBus((socket, request) => {
      calls++;
      const result = calls === 1 ? { locked: 'yes' } : { millivolts: 12_000 };
      socket.write(`${JSON.stringify({ id: request.id, result })}\n`);
    });
    const hal = await openHal(path);
    const error = await halError(hal.vehicle.readState());
    expect(error.code).toBe('bad-response');
    expect(error.message).toMatch(/locked/);
    expect(await hal.supply.readMillivolts()).toBe(12_000);
  });

  it('another protocol version: protocol-mismatch, and no request is sent', async () => {
    const path = join(await tempDir(), 'future.sock');
    const server = createServer((socket) => {
      socket.on('data', () =>
        socket.write(`${JSON.stringify({ id: 1, result: { protocolVersion: 99 } })}\n`),
      );
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const bus = new BusClient({ socketPath: path, requestTimeoutMs: 300 });
    cleanups.push(() => bus.close());
    const mismatch = new Promise((resolve) =>
      bus.onConnection((change) => {
        if (!change.connected && change.error) resolve(change.error.code);
      }),
    );
    expect(await mismatch).toBe('protocol-mismatch');
    expect((await halError(bus.request('state.read', {}))).code).toBe('bus-unavailable');
  });

  it('after close, requests fail with closed', async () => {
    const car = await startCar();
    const hal = await openSimHal({ socketPath: car.socketPath });
    await hal.close();
    expect((await halError(hal.vehicle.readState())).code).toBe('closed');
  });
});
