import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  Operation,
  SelfTestOutcome,
  type SelfTestResult,
} from '@mini-sharing/shared-protocol/messages';
import { SELF_TEST_IDS, type SelfTestId } from '@mini-sharing/shared-protocol/diagnostics';
import { issueModuleCertificate } from '@mini-sharing/shared-protocol/trust';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { HalError } from '../hal/index.js';
import { createSelfTestService } from './self-tests.js';
import {
  authorize,
  moduleLink,
  openServiceKit,
  provision,
  refusal,
  type ServiceKit,
} from './service-test-kit.js';

let kit: ServiceKit;
/** What the module did to the car, as the car saw it. */
let moduleActions: string[];

function watchCar(target: ServiceKit) {
  moduleActions = [];
  target.vehicle.on('lock', ({ locked, by }) => {
    if (by === 'module') moduleActions.push(locked ? 'lock' : 'unlock');
  });
  target.vehicle.on('immobilizer', ({ released }) =>
    moduleActions.push(released ? 'release' : 'engage'),
  );
}

beforeEach(async () => {
  kit = await openServiceKit();
  watchCar(kit);
});
afterEach(() => kit.close());

const OUTCOME = {
  [SelfTestOutcome.PASSED]: 'passed',
  [SelfTestOutcome.FAILED]: 'failed',
  [SelfTestOutcome.SKIPPED]: 'skipped',
} as Record<number, string>;

/** Runs tests over the service link (with an authorization once provisioned). */
async function run(testIds: readonly string[], target = kit) {
  const proof = target.identity.provisioned ? await authorize(target) : undefined;
  const response = await target.host.request(
    'selfTestRun',
    { testIds: [...testIds] },
    proof ? { serviceAuthorization: proof } : {},
  );
  return response.results;
}

async function one(id: SelfTestId, target = kit): Promise<{ outcome: string; detail: string }> {
  const [result] = await run([id], target);
  expect(result?.testId).toBe(id);
  const { outcome, detail } = result as SelfTestResult;
  return { outcome: OUTCOME[outcome] ?? 'unspecified', detail };
}

const stored = (target = kit) =>
  target.faults.faults.map(({ code, active, occurrences }) => ({ code, active, occurrences }));

describe('self-tests on a healthy car', () => {
  it('passes every test within the catalogue limits and leaves the car as it was', async () => {
    await provision(kit);
    const before = kit.vehicle.state();
    const progress: Array<[number, number]> = [];
    kit.host.onEvent((event) => {
      if (event.body.case === 'progress' && event.body.value.operation === Operation.SELF_TEST) {
        progress.push([Number(event.body.value.done), Number(event.body.value.total)]);
      }
    });
    const results = await run(SELF_TEST_IDS);
    expect(results.map((r) => [r.testId, OUTCOME[r.outcome]])).toEqual(
      SELF_TEST_IDS.map((id) => [id, 'passed']),
    );
    const detail = Object.fromEntries(results.map((r) => [r.testId, r.detail]));
    // Measured values with the catalogue's limits, in words a technician reads.
    expect(detail['supply-voltage']).toBe('12.60 V (limits 12.0–15.0 V)');
    expect(detail['vehicle-bus']).toMatch(/^\d+ ms \(limit ≤ 200 ms\); VIN WMW11DJ0702T12345/);
    expect(detail['central-lock-actuation']).toMatch(/^\d+ ms \(limit ≤ 1500 ms\); locked and/);
    expect(detail['immobilizer-handshake']).toMatch(/^\d+ ms \(limit ≤ 500 ms\); released and/);
    expect(detail['ble-radio']).toMatch(/^-58 dBm \(limit ≥ -75 dBm\)/);
    expect(detail['gnss-fix']).toMatch(
      /^\d+\.\d s \(limit ≤ 120 s\); position 48\.17710, 11\.55620 ±5 m/,
    );
    expect(detail['cellular-link']).toMatch(
      /^-85 dBm \(limit ≥ -115 dBm\); registered with Telekom\.de/,
    );
    expect(detail['secure-storage']).toBe('the identity key reads back, signs and verifies');
    // The same figures as fields, for the installation report.
    const supply = results.find((r) => r.testId === 'supply-voltage');
    expect(supply).toMatchObject({ measuredValue: 12.6, unit: 'V', limitMin: 12, limitMax: 15 });
    expect(supply?.faultCode).toBe('');
    const lock = results.find((r) => r.testId === 'central-lock-actuation');
    expect(lock).toMatchObject({ unit: 'ms', limitMax: 1500 });
    expect(lock?.limitMin).toBeUndefined();
    expect(lock?.measuredValue).toBeGreaterThanOrEqual(0);
    const storage = results.find((r) => r.testId === 'secure-storage');
    expect(storage?.measuredValue).toBeUndefined();
    expect(storage?.unit).toBe('');
    // The car was actuated both ways and left locked with the immobilizer engaged, as it was.
    expect(moduleActions).toEqual(['unlock', 'lock', 'release', 'engage']);
    expect(kit.vehicle.state()).toEqual(before);
    expect(stored()).toEqual([]);
    expect(progress).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((done) => [done, 8]));
  });

  it('restores an unlocked car with a released immobilizer to that state', async () => {
    kit.vehicle.unlock();
    kit.vehicle.releaseImmobilizer();
    moduleActions = [];
    const results = await run(['central-lock-actuation', 'immobilizer-handshake']);
    expect(results.map((r) => OUTCOME[r.outcome])).toEqual(['passed', 'passed']);
    expect(moduleActions).toEqual(['lock', 'unlock', 'engage', 'release']);
    expect(kit.vehicle.state()).toMatchObject({ locked: false, immobilizerReleased: true });
  });

  it('runs the default set (nothing that moves the car) for an empty list', async () => {
    const results = await run([]);
    expect(results.map((r) => [r.testId, OUTCOME[r.outcome]])).toEqual([
      ['supply-voltage', 'passed'],
      ['vehicle-bus', 'passed'],
      ['ble-radio', 'passed'],
      ['gnss-fix', 'passed'],
      // Catalogue preconditions: both need a provisioned module.
      ['cellular-link', 'skipped'],
      ['secure-storage', 'skipped'],
    ]);
    expect(results[4]?.detail).toMatch(/not provisioned/);
    expect(moduleActions).toEqual([]);
    expect(stored()).toEqual([]);
  });
});

describe('self-tests that find a fault', () => {
  it('low supply: fails with the measured voltage and stores B1C00', async () => {
    kit.vehicle.setBatteryVolts(11.8);
    expect(await one('supply-voltage')).toEqual({
      outcome: 'failed',
      detail: expect.stringMatching(
        /^11\.80 V \(limits 12\.0–15\.0 V\); supply below 12\.0 V: charge .*; fault B1C00 stored$/,
      ),
    });
    expect(stored()).toEqual([{ code: 'B1C00', active: true, occurrences: 1 }]);
    const [result] = await run(['supply-voltage']);
    expect(result).toMatchObject({ measuredValue: 11.8, unit: 'V', faultCode: 'B1C00' });
  });

  it('supply too high: stores B1C01', async () => {
    kit.vehicle.setBatteryVolts(15.4);
    expect((await one('supply-voltage')).detail).toMatch(/^15\.40 V .*above 15\.0 V.*B1C01/);
    expect(stored()).toEqual([{ code: 'B1C01', active: true, occurrences: 1 }]);
  });

  it('a car without 5GE: every test that needs the car fails with U1C10, stored once', async () => {
    const no5ge = await openServiceKit({ car: { optionCodes: ['6AC', '534'] } });
    try {
      watchCar(no5ge);
      const results = await run(
        ['vehicle-bus', 'central-lock-actuation', 'immobilizer-handshake', 'supply-voltage'],
        no5ge,
      );
      expect(results.map((r) => OUTCOME[r.outcome])).toEqual([
        'failed',
        'failed',
        'failed',
        'passed',
      ]);
      for (const result of results.slice(0, 3)) {
        expect(result.detail).toMatch(/no 5GE sharing interface.*fault U1C10 stored$/);
      }
      expect(stored(no5ge)).toEqual([{ code: 'U1C10', active: true, occurrences: 1 }]);
      expect(moduleActions).toEqual([]);
    } finally {
      await no5ge.close();
    }
  });

  it('a door open: the lock test is skipped with what to close, nothing moves or is stored', async () => {
    kit.vehicle.unlock();
    kit.vehicle.openDoor('tailgate');
    expect(await one('central-lock-actuation')).toEqual({
      outcome: 'skipped',
      detail: expect.stringMatching(/^open: tailgate: close every door/),
    });
    expect(moduleActions).toEqual([]);
    expect(kit.vehicle.state().locked).toBe(false);
    expect(stored()).toEqual([]);
  });

  it('ignition on: the actuating tests are skipped', async () => {
    kit.vehicle.switchIgnition(true);
    const results = await run(['central-lock-actuation', 'immobilizer-handshake']);
    for (const result of results) {
      expect(OUTCOME[result.outcome]).toBe('skipped');
      expect(result.detail).toMatch(/ignition is on/);
    }
    expect(moduleActions).toEqual([]);
  });

  it('locks that do not move: fails on the read-back, stores B1C20, car left as it was', async () => {
    kit.vehicle.setCentralLockFault(true);
    expect(await one('central-lock-actuation')).toEqual({
      outcome: 'failed',
      detail: expect.stringMatching(/the locks did not confirm unlocking.*fault B1C20 stored$/),
    });
    expect(kit.vehicle.state().locked).toBe(true);
    expect(stored()).toEqual([{ code: 'B1C20', active: true, occurrences: 1 }]);
  });

  it('an immobilizer that rejects the module: stores B1C21, stays engaged', async () => {
    kit.vehicle.setImmobilizerFault(true);
    expect(await one('immobilizer-handshake')).toEqual({
      outcome: 'failed',
      detail: expect.stringMatching(/rejected the module's authentication.*fault B1C21 stored$/),
    });
    expect(kit.vehicle.state().immobilizerReleased).toBe(false);
    expect(stored()).toEqual([{ code: 'B1C21', active: true, occurrences: 1 }]);
  });

  it('no satellites: fails and stores B1C51; a later fix marks it no longer active', async () => {
    kit.vehicle.setGnssSignal(false);
    expect(await one('gnss-fix')).toEqual({
      outcome: 'failed',
      detail: expect.stringMatching(
        /^no satellites: no position after 0\.\d s; .*fault B1C51 stored$/,
      ),
    });
    expect(stored()).toEqual([{ code: 'B1C51', active: true, occurrences: 1 }]);
    kit.vehicle.setGnssSignal(true);
    expect((await one('gnss-fix')).outcome).toBe('passed');
    expect(stored()).toEqual([{ code: 'B1C51', active: false, occurrences: 1 }]);
  });

  it('no mobile network, or too weak a one: fails and stores U1C60', async () => {
    await provision(kit);
    kit.vehicle.setCellularSignal(null);
    expect((await one('cellular-link')).detail).toMatch(
      /^not registered: no mobile network.*U1C60/,
    );
    kit.vehicle.setCellularSignal(-118);
    expect((await one('cellular-link')).detail).toMatch(
      /^-118 dBm \(limit ≥ -115 dBm\); registered with Telekom\.de, but the signal is too weak/,
    );
    expect(stored()).toEqual([{ code: 'U1C60', active: true, occurrences: 2 }]);
  });

  it('Bluetooth: a dead radio stores B1C40, a weak or missing tester B1C42', async () => {
    kit.simCar.bus.radios.setBleRadioWorking(false);
    expect((await one('ble-radio')).detail).toBe(
      'the Bluetooth radio does not start; fault B1C40 stored',
    );
    // nothing measured: no value, no unit and no limits in the result, only the fault code
    const [dead] = await run(['ble-radio']);
    expect(dead).toMatchObject({ unit: '', faultCode: 'B1C40' });
    expect([dead?.measuredValue, dead?.limitMin, dead?.limitMax]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    kit.simCar.bus.radios.setBleRadioWorking(true);
    kit.vehicle.setBleTester(-81);
    expect((await one('ble-radio')).detail).toMatch(/^-81 dBm \(limit ≥ -75 dBm\); weak signal/);
    kit.vehicle.setBleTester(null);
    expect((await one('ble-radio')).detail).toMatch(
      /^no signal from the workshop's Bluetooth tester/,
    );
    expect(stored().sort((a, b) => a.code.localeCompare(b.code))).toEqual([
      { code: 'B1C40', active: false, occurrences: 2 }, // the dead radio was tested twice
      { code: 'B1C42', active: true, occurrences: 2 },
    ]);
  });

  it('a damaged identity record: secure storage fails and stores B1C70', async () => {
    await provision(kit);
    await writeFile(join(kit.dir, 'records', 'provisioning.rec'), 'not a record');
    expect(await one('secure-storage')).toEqual({
      outcome: 'failed',
      detail: expect.stringMatching(/^the stored identity does not read back: .*B1C70 stored$/),
    });
  });

  it('a module moved to another car: the vehicle test names the VIN mismatch (U1C11)', async () => {
    // Provisioned for the fixtures' car, then fitted to a car with another VIN.
    const other = await openServiceKit({ car: { vin: 'WMW31DH0302S71642' } });
    try {
      const pending = await other.identity.beginIdentity();
      await other.identity.commit({
        identityPublicKey: pending.publicKey,
        moduleCertificate: await issueModuleCertificate(other.fx.cloud, {
          moduleSerial: other.fx.moduleSerial,
          modulePublicKey: pending.publicKey,
          vin: other.fx.vin,
          issuedAtMs: TEST_NOW_MS,
        }),
        moduleLinkSettings: new Uint8Array(0),
        cloudKeyCertificates: moduleLink(other.fx).cloudSigningKeys,
      });
      expect((await one('vehicle-bus', other)).detail).toMatch(
        /certificate names VIN WMW11DJ0702T12345, but the car reports WMW31DH0302S71642.*U1C11 stored$/,
      );
    } finally {
      await other.close();
    }
  });

  it('a car that answers too slowly: fails the vehicle test against its 200 ms limit', async () => {
    const vehicle = kit.hal.vehicle;
    const slowCar = Object.assign(Object.create(vehicle) as typeof vehicle, {
      readIdentity: async () => {
        await new Promise((resolve) => setTimeout(resolve, 250));
        return vehicle.readIdentity();
      },
    });
    const slow = createSelfTestService({
      hal: { ...kit.hal, vehicle: slowCar },
      identity: kit.identity,
      faults: kit.faults,
      log: kit.log,
      moduleSerial: kit.fx.moduleSerial,
    });
    const [report] = await slow.run(['vehicle-bus']);
    expect(report).toMatchObject({
      outcome: 'failed',
      unit: 'ms',
      limits: { max: 200 },
      faultCode: 'U1C10',
      note: expect.stringMatching(/answered slowly/),
    });
    expect(report?.value).toBeGreaterThanOrEqual(250);
  });

  it('a command lost half-way: the lock test fails and still puts the car back as it was', async () => {
    const vehicle = kit.hal.vehicle;
    let lockCalls = 0;
    const flaky = Object.assign(Object.create(vehicle) as typeof vehicle, {
      lock: async () => {
        lockCalls += 1;
        if (lockCalls === 1) throw new HalError('timeout', 'no answer within 2000 ms');
        return vehicle.lock();
      },
    });
    const service = createSelfTestService({
      hal: { ...kit.hal, vehicle: flaky },
      identity: kit.identity,
      faults: kit.faults,
      log: kit.log,
      moduleSerial: kit.fx.moduleSerial,
    });
    const [report] = await service.run(['central-lock-actuation']);
    expect(report).toMatchObject({
      outcome: 'failed',
      faultCode: 'B1C20',
      note: 'could not run the test: no answer within 2000 ms',
    });
    // Unlocked by the test, then locked again by the restore after the lost command.
    expect(moduleActions).toEqual(['unlock', 'lock']);
    expect(kit.vehicle.state().locked).toBe(true);
  });

  it('hardware that does not answer: a failed result, not a crash', async () => {
    kit.vehicle.pullBattery();
    const [result] = await run(['supply-voltage']);
    expect(OUTCOME[result?.outcome ?? 0]).toBe('failed');
    expect(result?.detail).toMatch(/^could not run the test: .*B1C00 stored$/);
    kit.vehicle.restoreBattery();
  });
});

describe('self-test requests', () => {
  it('refuses unknown ids with BAD_REQUEST and runs nothing', async () => {
    const error = await refusal(
      kit.host.request('selfTestRun', { testIds: ['central-lock-actuation', 'coffee-machine'] }),
    );
    expect(error.code).toBe(ErrorCode.BAD_REQUEST);
    expect(error.message).toMatch(/"coffee-machine": nothing was run/);
    expect(error.details.unknownTestIds).toBe('coffee-machine');
    expect(moduleActions).toEqual([]);
    expect(kit.log.read(0, 0).entries.filter((e) => e.component === 'self-test')).toEqual([]);
  });

  it('runs a test named twice once', async () => {
    const results = await run(['supply-voltage', 'supply-voltage']);
    expect(results.map((r) => r.testId)).toEqual(['supply-voltage']);
  });

  it('answers BUSY to a second run while one is running', async () => {
    kit.vehicle.setGnssSignal(false); // the GNSS test waits for a fix: the first run takes a while
    const first = kit.host.request('selfTestRun', { testIds: ['gnss-fix'] });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await refusal(kit.host.request('selfTestRun', { testIds: ['supply-voltage'] }));
    expect(second.code).toBe(ErrorCode.BUSY);
    expect((await first).results).toHaveLength(1);
  });

  it('a cancel stops the run before the next test: nothing more moves or is stored', async () => {
    kit.vehicle.setGnssSignal(false);
    const controller = new AbortController();
    const cancelled = kit.host.request(
      'selfTestRun',
      { testIds: ['gnss-fix', 'central-lock-actuation'] },
      { signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort();
    await expect(cancelled).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(moduleActions).toEqual([]);
    expect(stored()).toEqual([]);
    // The module is free again.
    expect(await run(['supply-voltage'])).toHaveLength(1);
  });

  it('logs every result in the module log', async () => {
    kit.vehicle.setGnssSignal(false);
    await run(['supply-voltage', 'gnss-fix']);
    expect(
      kit.log
        .read(0, 0)
        .entries.filter((e) => e.component === 'self-test')
        .map((e) => [e.level, e.message.split(':')[0]]),
    ).toEqual([
      ['info', 'supply-voltage passed'],
      ['warn', 'gnss-fix failed'],
    ]);
  });
});
