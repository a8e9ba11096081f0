/**
 * The service-link session end to end: real `serialport` on both ends of the virtual serial line,
 * with the line's faults switched on. The module side here is a test responder built on the
 * session's `serve`, not the firmware (which brings its own tests with issue #6).
 */
import { createHash } from 'node:crypto';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { PROTOCOL_VERSION } from '@mini-sharing/shared-protocol/messages';
import {
  BaudRateFollower,
  DisconnectedError,
  ServiceSession,
  TimeoutError,
  channelFromStream,
  hello,
  negotiateBaudRate,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import { VirtualSerialLine } from '../sim/index.js';

const TIME_SCALE = 0.05; // the wire runs 20 times faster than real time

async function openPort(path: string, baudRate: number): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) => (error ? reject(error) : resolve())),
  );
  return port;
}

function setBaudRate(port: SerialPort, baudRate: number): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    port.update({ baudRate }, (error) => (error ? reject(error) : resolve())),
  );
}

async function closePort(port: SerialPort): Promise<void> {
  if (!port.isOpen) return;
  await new Promise<void>((resolve) => port.close(() => resolve()));
}

/** Answers like a module would: hello, and flash data acknowledged with a digest of the bytes. */
const handlers: RequestHandlers = {
  hello: () => ({
    protocolMajor: PROTOCOL_VERSION.major,
    protocolMinor: PROTOCOL_VERSION.minor,
    moduleSerial: 'MSM-E2E-0001',
    baudRates: [921600, 460800, 115200],
  }),
  flashData: (request) => ({
    offset: request.offset,
    // committed offset stands in for "what I received": digest of the data, for the host to check
    committedOffset: createHash('sha256').update(request.data).digest().readUInt32LE(0),
  }),
};

const digest = (data: Uint8Array) => createHash('sha256').update(data).digest().readUInt32LE(0);

describe('service link over the virtual serial line with real serialport', () => {
  let line: VirtualSerialLine;
  const ports: SerialPort[] = [];
  const sessions: ServiceSession[] = [];

  async function connect(options: { appBaud?: number; moduleBaud?: number; timeoutMs?: number }) {
    const modulePort = await openPort(line.modulePath, options.moduleBaud ?? 115200);
    const appPort = await openPort(line.appPath, options.appBaud ?? 115200);
    ports.push(modulePort, appPort);
    const module = new ServiceSession({
      channel: channelFromStream(modulePort),
      clock: systemClock,
    });
    module.serve(handlers);
    const host = new ServiceSession({
      channel: channelFromStream(appPort),
      clock: systemClock,
      timeoutMs: options.timeoutMs ?? 300,
      retries: 4,
    });
    sessions.push(module, host);
    // let the line's rate poller see both ends' settings before traffic starts
    await line.readBaudRates();
    return { host, module, appPort, modulePort };
  }

  beforeEach(async () => {
    line = await VirtualSerialLine.open({ timeScale: TIME_SCALE, seed: 42 });
  });

  afterEach(async () => {
    sessions.splice(0).forEach((session) => session.close());
    await Promise.all(ports.splice(0).map(closePort));
    await line.close();
  });

  it('opens a session with HELLO', async () => {
    const { host } = await connect({});
    const response = await hello(host, 'e2e');
    expect(response.moduleSerial).toBe('MSM-E2E-0001');
  });

  it('moves 4 KiB chunks with a window of requests in flight, intact', async () => {
    const { host } = await connect({ appBaud: 921600, moduleBaud: 921600 });
    const chunks = Array.from({ length: 24 }, (_, i) =>
      Uint8Array.from({ length: 4096 }, (_, j) => (i * 31 + j * 7) & 0xff),
    );
    const responses = await Promise.all(
      chunks.map((data, i) => host.request('flashData', { offset: i * 4096, data })),
    );
    responses.forEach((response, i) => {
      expect(response.offset).toBe(i * 4096);
      expect(response.committedOffset).toBe(digest(chunks[i]!));
    });
  });

  it('gets every answer right through bit errors and dropped bytes, by retrying', async () => {
    const { host, module } = await connect({ appBaud: 921600, moduleBaud: 921600 });
    line.setFaults({ bitErrorRate: 2e-5, dropRate: 2e-5 });
    for (let i = 0; i < 60; i++) {
      const data = Uint8Array.from({ length: 1024 }, (_, j) => (i + j) & 0xff);
      const response = await host.request('flashData', { offset: i * 1024, data });
      expect(response.committedOffset).toBe(digest(data));
    }
    const damaged =
      line.stats.appToModule.flippedBits +
      line.stats.appToModule.dropped +
      line.stats.moduleToApp.flippedBits +
      line.stats.moduleToApp.dropped;
    expect(damaged).toBeGreaterThan(0);
    expect(host.stats.framesDropped + module.stats.framesDropped).toBeGreaterThan(0);
    expect(host.stats.retransmissions).toBeGreaterThan(0);
  });

  it('rides out a stall shorter than its retries, and times out on a longer one', async () => {
    const { host } = await connect({ timeoutMs: 200 });
    line.stall(300);
    expect((await host.request('hello', {})).moduleSerial).toBe('MSM-E2E-0001');
    line.stall(3000);
    const error = await host.request('deviceInfo', {}, { retries: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
  });

  it('reports Disconnected on unplug and talks again after the cable is back', async () => {
    const { host } = await connect({});
    await hello(host, 'e2e');
    const pending = host.request('hello', {}, { timeoutMs: 5000 }).catch((e: unknown) => e);
    await line.unplug();
    expect(await pending).toBeInstanceOf(DisconnectedError);
    await line.plug();
    ports.splice(0).forEach((port) => port.removeAllListeners());
    const again = await connect({});
    expect((await hello(again.host, 'e2e')).moduleSerial).toBe('MSM-E2E-0001');
  });

  it('hears only garbage while the ends disagree on the rate, and recovers when they agree', async () => {
    const { host, appPort } = await connect({ appBaud: 460800, moduleBaud: 115200 });
    await expect(host.request('hello', {}, { retries: 1 })).rejects.toBeInstanceOf(TimeoutError);
    await new Promise<void>((resolve, reject) =>
      appPort.update({ baudRate: 115200 }, (error) => (error ? reject(error) : resolve())),
    );
    await line.readBaudRates();
    host.resetFraming();
    expect((await hello(host, 'e2e')).moduleSerial).toBe('MSM-E2E-0001');
  });

  it('negotiates the line up to 921600 baud and keeps talking there', async () => {
    const { host, module, appPort, modulePort } = await connect({});
    const follower = new BaudRateFollower(module, {
      clock: systemClock,
      rates: [921600, 460800, 115200],
      setLocalBaudRate: (rate) => setBaudRate(modulePort, rate),
    });
    module.serve({ ...handlers, baudChange: follower.handleBaudChange });
    const { baudRates } = await hello(host, 'e2e');
    const result = await negotiateBaudRate(host, {
      clock: systemClock,
      host: 'e2e',
      moduleRates: baudRates,
      setLocalBaudRate: (rate) => setBaudRate(appPort, rate),
    });
    expect(result).toEqual({
      baudRate: 921600,
      attempts: [{ baudRate: 921600, outcome: 'in use' }],
    });
    expect(await line.readBaudRates()).toEqual({ app: 921600, module: 921600 });
    const data = new Uint8Array(4096).fill(0x5a);
    expect((await host.request('flashData', { offset: 0, data })).committedOffset).toBe(
      digest(data),
    );
    expect(follower.baudRate).toBe(921600);
  });
});
