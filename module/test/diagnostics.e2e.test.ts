/**
 * Diagnostics end to end: a module booted from a signed image (boot loader and firmware as real
 * processes), the simulated car on its vehicle bus, the workshop on the virtual serial line with
 * real serialport, driven by the host's ServiceClient: self-tests against the car, fault codes
 * read and cleared, the module log read across a power cut, and a factory reset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { SELF_TEST_IDS } from '@mini-sharing/shared-protocol/diagnostics';
import {
  ErrorCode,
  LogLevel,
  ProvisioningState,
  RunMode,
  SelfTestOutcome,
} from '@mini-sharing/shared-protocol/messages';
import { ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { startModuleRig, type ModuleRig } from '../sim/index.js';

let rig: ModuleRig;
let client: ServiceClient;

beforeAll(async () => {
  rig = await startModuleRig({ factoryImage: await buildFirmwareRelease(RELEASES[0]!) });
}, 120_000);

afterAll(() => rig?.close());

async function connect(): Promise<ServiceClient> {
  await rig.helloWhen((answer) => answer.runMode === RunMode.APPLICATION);
  const next = new ServiceClient({ session: rig.host, clock: systemClock, host: 'e2e' });
  await next.connect();
  return next;
}

/** The whole log, page by page, as the workshop app reads it. */
async function readLog(from = 0n) {
  const entries = [];
  for (let next = from; ;) {
    const page = await client.readLog(next, 0);
    if (page.entries.length === 0) return entries;
    entries.push(...page.entries);
    next = page.nextSequence;
  }
}

/** The log once `ready` holds: the module writes lines in batches, a host sees them within ~1 s. */
async function readLogWhen(ready: (messages: string[]) => boolean, from = 0n) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const entries = await readLog(from);
    if (ready(entries.map((e) => e.message)) || Date.now() > deadline) return entries;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const OUTCOME: Record<number, string> = {
  [SelfTestOutcome.PASSED]: 'passed',
  [SelfTestOutcome.FAILED]: 'failed',
  [SelfTestOutcome.SKIPPED]: 'skipped',
};

describe('diagnostics over the service link', () => {
  it('runs every self-test against the car and stores what fails', async () => {
    client = await connect();
    // The workshop tester lies too far from the car: the Bluetooth test must fail.
    rig.car.vehicle.setBleTester(-82);
    const before = rig.car.vehicle.state();
    const { results } = await client.selfTest(SELF_TEST_IDS, { timeoutMs: 30_000 });
    expect(results.map((r) => [r.testId, OUTCOME[r.outcome]])).toEqual([
      ['supply-voltage', 'passed'],
      ['vehicle-bus', 'passed'],
      ['central-lock-actuation', 'passed'],
      ['immobilizer-handshake', 'passed'],
      ['ble-radio', 'failed'],
      ['gnss-fix', 'passed'],
      // A factory-fresh module is not provisioned: the catalogue's precondition.
      ['cellular-link', 'skipped'],
      ['secure-storage', 'skipped'],
    ]);
    expect(results[0]?.detail).toBe('13.60 V (limits 12.0–15.0 V)');
    expect(results[4]?.detail).toMatch(/^-82 dBm \(limit ≥ -75 dBm\); weak signal.*B1C42 stored$/);
    // The car was locked and unlocked, released and engaged, and left as it was.
    expect(rig.car.vehicle.state()).toMatchObject({
      locked: before.locked,
      immobilizerReleased: before.immobilizerReleased,
    });
  }, 60_000);

  it('reads the stored fault code, then clears it', async () => {
    const { faultCodes } = await client.readFaultCodes();
    expect(faultCodes).toEqual([
      expect.objectContaining({
        code: 'B1C42',
        active: true,
        occurrences: 1,
        description: expect.stringMatching(/Bluetooth/),
      }),
    ]);
    expect(faultCodes[0]?.firstSeenMs).toBeGreaterThan(0n);
    expect(await client.clearFaultCodes()).toMatchObject({ cleared: 1 });
    expect((await client.readFaultCodes()).faultCodes).toEqual([]);
  }, 30_000);

  it("reads the module log: the firmware's own lines and what it did, in order, across a power cut", async () => {
    const entries = await readLogWhen((messages) => messages.includes('faultCodesClear done'));
    const sequences = entries.map((e) => Number(e.sequence));
    expect(sequences).toEqual(sequences.map((_, i) => (sequences[0] ?? 0) + i));
    const lines = entries.map((e) => `${e.component}: ${e.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^firmware: firmware 1\.0\.0 starting from slot A$/),
        expect.stringMatching(/^firmware: serving /),
        expect.stringMatching(/^self-test: ble-radio failed: -82 dBm/),
        'service: faultCodesClear done',
      ]),
    );
    expect(entries.find((e) => e.message.startsWith('ble-radio failed'))?.level).toBe(
      LogLevel.WARN,
    );

    // 12 V pulled: everything the host has read is still there after the power comes back.
    await rig.module.powerOff();
    rig.module.powerOn();
    client = await connect();
    const after = await readLogWhen((messages) => /^serving /.test(messages.at(-1) ?? ''));
    expect(after.slice(0, entries.length)).toEqual(entries);
    const last = Number(entries.at(-1)?.sequence);
    expect(after.slice(entries.length).map((e) => Number(e.sequence))).toEqual(
      after.slice(entries.length).map((_, i) => last + 1 + i),
    );
    expect(after.at(-1)?.message).toMatch(/^serving /);
  }, 60_000);

  it('factory reset: refuses another serial, then wipes and comes back unprovisioned', async () => {
    const serial = client.module?.moduleSerial ?? '';
    await expect(client.factoryReset('MSM-24-000001-1')).rejects.toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      message: expect.stringMatching(/nothing was reset/),
    });
    rig.car.vehicle.setGnssSignal(false);
    await client.selfTest(['gnss-fix'], { timeoutMs: 30_000 });
    expect((await client.readFaultCodes()).faultCodes.map((f) => f.code)).toEqual(['B1C51']);
    const before = await readLog();

    const answer = await client.factoryReset(serial);
    expect(answer.rebootInMs).toBeGreaterThan(0);
    // The module answers, then restarts: connect to the firmware that comes back.
    await new Promise((resolve) => setTimeout(resolve, answer.rebootInMs + 500));
    client = await connect();
    expect(client.module?.provisioningState).toBe(ProvisioningState.UNPROVISIONED);
    expect((await client.readFaultCodes()).faultCodes).toEqual([]);
    const after = await readLogWhen((messages) => messages.some((m) => /^serving /.test(m)));
    expect(after[0]?.message).toMatch(/^factory reset/);
    expect(Number(after[0]?.sequence)).toBeGreaterThan(Number(before.at(-1)?.sequence));
    expect(after.some((e) => e.message.startsWith('gnss-fix'))).toBe(false);
  }, 90_000);
});
