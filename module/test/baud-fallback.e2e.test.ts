/**
 * Baud negotiation against the real firmware over a line that cannot carry every rate
 * (PROTOCOL.md section 8): the virtual serial line turns bytes sent faster than its
 * `maxBaudRate` into noise, so the host's probe at a too-fast rate goes unanswered. Both ends must
 * fall back to the rate they came from (the module by itself, after `revert_after_ms`), the host
 * tries the next lower rate, and the session goes on: device info and a whole flash work at the
 * rate it settled on. (service-link.e2e.test.ts covers a clean negotiation against a test
 * responder; session/baud.test.ts the fallback logic on an in-memory channel.)
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { DEFAULT_REVERT_AFTER_MS } from '@mini-sharing/shared-protocol/session';
import { FlashSender, ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { startModuleRig, type ModuleRig } from '../sim/index.js';

let rig: ModuleRig;
let update: Uint8Array;
/** The module end's rate each time the line saw it change. */
let moduleRates: number[] = [];

beforeAll(async () => {
  update = await buildFirmwareRelease(RELEASES[1]!);
  rig = await startModuleRig({
    factoryImage: await buildFirmwareRelease(RELEASES[0]!),
    timeoutMs: 500,
  });
  rig.line.on('baudRate', ({ end, baudRate }) => {
    if (end === 'module' && baudRate !== undefined) moduleRates.push(baudRate);
  });
  await rig.helloWhen();
}, 120_000);

afterAll(() => rig?.close());

beforeEach(async () => {
  // every session starts at 115200: pull the cable so the module's port starts over too
  rig.line.setFaults({ maxBaudRate: Infinity });
  await rig.line.unplug();
  await rig.line.plug();
  await rig.reconnectHost();
  await rig.helloWhen();
  moduleRates = [];
});

function client(): ServiceClient {
  return new ServiceClient({
    session: rig.host,
    clock: systemClock,
    host: 'e2e',
    setLocalBaudRate: (baudRate) => rig.setHostBaudRate(baudRate),
  });
}

/**
 * What a fallback must end with, whatever the path: the too-fast rate was tried and failed, the
 * last attempt is the rate in use, and it is one the line carries. Under a heavily loaded machine
 * an attempt at a rate the line does carry may also time out ("no answer") and the host goes one
 * lower: that is the protocol working, so the exact path is not asserted.
 */
function expectFellBack(
  baud: { baudRate: number; attempts: Array<{ baudRate: number; outcome: string }> } | undefined,
  maxCarried: number,
): number {
  expect(baud).toBeDefined();
  const { baudRate, attempts } = baud!;
  expect(attempts[0]).toMatchObject({ baudRate: 921600 });
  expect(attempts[0]?.outcome).not.toBe('in use');
  expect(attempts.at(-1)).toEqual({ baudRate, outcome: 'in use' });
  expect(attempts.slice(0, -1).every((attempt) => attempt.outcome !== 'in use')).toBe(true);
  expect(baudRate).toBeLessThanOrEqual(maxCarried);
  return baudRate;
}

describe('baud negotiation over a line that cannot carry every rate', () => {
  it('falls back from 921600 to 460800 when the line carries at most 460800, and flashes there', async () => {
    rig.line.setFaults({ maxBaudRate: 460800 });
    const host = client();
    const { baud } = await host.connect();
    const rate = expectFellBack(baud, 460800);
    // the module went to 921600, heard nothing intact, went back to 115200 by itself, then
    // followed the host down (to 460800, unless a loaded machine made that attempt time out)
    expect(moduleRates.slice(0, 2)).toEqual([921600, 115200]);
    expect(moduleRates.at(-1)).toBe(rate);
    expect(await rig.line.readBaudRates()).toEqual({ app: rate, module: rate });
    expect(rig.line.stats.appToModule.overRate).toBeGreaterThan(0);

    expect(await host.deviceInfo()).toMatchObject({ hardwareRevision: 'HW-C' });
    const overRate = rig.line.stats.appToModule.overRate + rig.line.stats.moduleToApp.overRate;
    const result = await new FlashSender(host).flash(update, { activate: false });
    expect(result.end.firmwareVersion).toBe('1.1.0');
    // all of it at 460800: not one byte more went over the limit
    expect(rig.line.stats.appToModule.overRate + rig.line.stats.moduleToApp.overRate).toBe(
      overRate,
    );
  }, 60_000);

  it('stays at 115200 when the line carries nothing faster, and the session goes on', async () => {
    rig.line.setFaults({ maxBaudRate: 115200 });
    const host = client();
    const { baud, hello } = await host.connect();
    expect(hello.firmwareVersion).toBe('1.0.0');
    expect(expectFellBack(baud, 115200)).toBe(115200);
    expect(baud?.attempts.map((attempt) => attempt.baudRate)).toEqual([921600, 460800, 115200]);
    expect(moduleRates).toEqual([921600, 115200, 460800, 115200]);
    expect(await rig.line.readBaudRates()).toEqual({ app: 115200, module: 115200 });
    expect(await host.deviceInfo()).toMatchObject({ hardwareRevision: 'HW-C' });
    const result = await new FlashSender(host).flash(update, { activate: false });
    expect(result.end.firmwareVersion).toBe('1.1.0');
  }, 60_000);

  // The module hears the probe HELLO at 921600 and answers, but its answer is noise on the way
  // back. It keeps a new rate only for a second request the host sends once the probe's answer
  // has reached it (PROTOCOL.md section 8), so it goes back to 115200 by itself, like the host.
  it('falls back when only the module-to-host direction cannot carry 921600', async () => {
    rig.line.setFaults({ maxBaudRate: 460800, direction: 'moduleToApp' });
    const overRateBefore = {
      appToModule: rig.line.stats.appToModule.overRate,
      moduleToApp: rig.line.stats.moduleToApp.overRate,
    };
    const host = client();
    const { baud } = await host.connect();
    const rate = expectFellBack(baud, 460800);
    // the module did not stay at 921600: it went back to 115200 by itself
    expect(moduleRates.slice(0, 2)).toEqual([921600, 115200]);
    expect(await rig.line.readBaudRates()).toEqual({ app: rate, module: rate });
    // the probe crossed at 921600; only the answers came back as noise
    expect(rig.line.stats.moduleToApp.overRate).toBeGreaterThan(overRateBefore.moduleToApp);
    expect(rig.line.stats.appToModule.overRate).toBe(overRateBefore.appToModule);
    expect(await host.deviceInfo()).toMatchObject({ hardwareRevision: 'HW-C' });
    const result = await new FlashSender(host).flash(update, { activate: false });
    expect(result.end.firmwareVersion).toBe('1.1.0');
  }, 60_000);

  it('keeps 921600 after the confirmation, past the revert time', async () => {
    const host = client();
    const { baud } = await host.connect();
    expect(baud).toEqual({ baudRate: 921600, attempts: [{ baudRate: 921600, outcome: 'in use' }] });
    // past the module's revert_after_ms (DEFAULT_REVERT_AFTER_MS, 2 s)
    await new Promise((resolve) => setTimeout(resolve, DEFAULT_REVERT_AFTER_MS + 500));
    expect(moduleRates).toEqual([921600]);
    expect(await rig.line.readBaudRates()).toEqual({ app: 921600, module: 921600 });
    expect(await host.deviceInfo()).toMatchObject({ hardwareRevision: 'HW-C' });
  }, 60_000);
});
