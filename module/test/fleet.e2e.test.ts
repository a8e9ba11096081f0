/**
 * module-sim's fleet runner end to end: the example fleet's cars start with modules booted from
 * signed images on virtual serial lines; a module in a car without 5GE reports that it has no
 * sharing interface; pulling the 12 V battery powers a module off and restoring it boots it again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import {
  ServiceSession,
  TimeoutError,
  channelFromStream,
  hello,
} from '@mini-sharing/shared-protocol/session';
import { exampleFleet } from '@mini-sharing/shared-protocol/vehicle';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { runCommand, startFleet, type RunningFleet } from '../sim/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-'));
let fleet: RunningFleet;
const hosts: Array<{ port: SerialPort; session: ServiceSession }> = [];

function connect(serial: string): ServiceSession {
  const car = fleet.find(serial);
  if (!car?.module) throw new Error(`no module ${serial}`);
  const port = new SerialPort({ path: car.module.line.appPath, baudRate: 115200 });
  const session = new ServiceSession({
    channel: channelFromStream(port),
    clock: systemClock,
    timeoutMs: 500,
  });
  hosts.push({ port, session });
  return session;
}

async function helloWhenUp(session: ServiceSession, deadlineMs = 20_000) {
  const start = Date.now();
  for (;;) {
    try {
      return await hello(session, 'e2e', { retries: 0 });
    } catch (error) {
      if (Date.now() - start > deadlineMs) throw error;
    }
  }
}

beforeAll(async () => {
  const image = await buildFirmwareRelease(RELEASES[0]!);
  fleet = await startFleet({
    fleet: exampleFleet(),
    dir,
    portsDir: join(dir, 'ports'),
    output: 'ignore',
    factoryImage: async () => image,
  });
}, 120_000);

afterAll(async () => {
  for (const { port, session } of hosts) {
    session.close();
    if (port.isOpen) await new Promise((resolve) => port.close(resolve));
  }
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('module-sim fleet', () => {
  it('boots the module of a 5GE car, which reads the car through its sharing interface', async () => {
    const session = connect('MSM-24-001234-3');
    expect((await helloWhenUp(session)).firmwareVersion).toBe('1.0.0');
    expect(await session.request('vehicleInfo', {})).toMatchObject({
      sharingInterfacePresent: true,
      vin: 'WMW31DH0302S71642',
    });
  }, 60_000);

  it('a module in a car without 5GE reports that the car has no sharing interface', async () => {
    const session = connect('MSM-24-001235-1');
    await helloWhenUp(session);
    expect(await session.request('vehicleInfo', {})).toMatchObject({
      sharingInterfacePresent: false,
      vin: '',
    });
  }, 60_000);

  it('pulling the 12 V battery powers the module off; restoring it boots it again', async () => {
    const session = hosts[0]!.session;
    expect(runCommand(fleet, 'battery 1 pull')).toMatch(/module is off/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(session.request('hello', {}, { retries: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(runCommand(fleet, 'battery 1 restore')).toMatch(/module boots/);
    expect((await helloWhenUp(session)).moduleSerial).toBe('MSM-24-001234-3');
  }, 60_000);

  it('answers commands with clear words and refuses unknown cars', () => {
    expect(runCommand(fleet, 'door 1 front-left open')).toMatch(/^Refused: .*unlock the car first/);
    expect(runCommand(fleet, 'unlock 1')).toBe('unlocked');
    expect(runCommand(fleet, 'door 1 front-left open')).toBe('front-left opened');
    expect(runCommand(fleet, 'lock 1')).toMatch(/^Refused: /);
    expect(fleet.find('1')?.vehicle.snapshot()).toMatchObject({
      locked: false,
      openDoors: ['front-left'],
    });
    expect(runCommand(fleet, 'door 1 sunroof open')).toMatch(/^Usage: door/);
    expect(runCommand(fleet, 'show 99')).toMatch(/No car "99"/);
    const before = fleet.clock.now();
    expect(runCommand(fleet, 'clock +3h')).toMatch(/^simulated time /);
    expect(fleet.clock.now() - before).toBeGreaterThanOrEqual(3 * 3_600_000);
    expect(runCommand(fleet, 'clock soon')).toMatch(/^Usage: clock/);
    expect(runCommand(fleet, 'fly 1')).toMatch(/Unknown command/);
    expect(runCommand(fleet, 'fly')).toMatch(/^Unknown command "fly"/);
  });
});
