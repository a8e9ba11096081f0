import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@mini-sharing/shared-protocol/messages';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { FAULT_CODES_RECORD, FaultMemory } from './fault-codes.js';
import {
  authorize,
  openServiceKit,
  provision,
  refusal,
  snapshot,
  type ServiceKit,
} from './service-test-kit.js';

let kit: ServiceKit;
beforeEach(async () => {
  kit = await openServiceKit();
});
afterEach(() => kit.close());

const MINUTE = 60_000;

async function read() {
  const { faultCodes } = await kit.host.request('faultCodesRead', {});
  return faultCodes.map((f) => ({
    code: f.code,
    active: f.active,
    occurrences: f.occurrences,
    firstSeenMs: Number(f.firstSeenMs) - TEST_NOW_MS,
    lastSeenMs: Number(f.lastSeenMs) - TEST_NOW_MS,
    description: f.description,
  }));
}

describe('fault codes', () => {
  it('stores what self-tests find, with first and last seen and a count, read without authorization', async () => {
    kit.vehicle.setGnssSignal(false);
    await kit.host.request('selfTestRun', { testIds: ['gnss-fix'] });
    kit.clock.nowMs += 5 * MINUTE;
    kit.vehicle.setBatteryVolts(11.5);
    await kit.host.request('selfTestRun', { testIds: ['gnss-fix', 'supply-voltage'] });
    await provision(kit); // read-only: still no authorization needed
    kit.reconnect();
    expect(await read()).toEqual([
      {
        code: 'B1C00',
        active: true,
        occurrences: 1,
        firstSeenMs: 5 * MINUTE,
        lastSeenMs: 5 * MINUTE,
        description: 'Supply voltage at the module below 12.0 V.',
      },
      {
        code: 'B1C51',
        active: true,
        occurrences: 2,
        firstSeenMs: 0,
        lastSeenMs: 5 * MINUTE,
        description: expect.stringMatching(/satellite/),
      },
    ]);
  });

  it('survive a restart of the module', async () => {
    kit.vehicle.setGnssSignal(false);
    await kit.host.request('selfTestRun', { testIds: ['gnss-fix'] });
    const before = await read();
    await kit.restart();
    expect(await read()).toEqual(before);
    expect(before).toHaveLength(1);
  });

  it('clears them all (and the clearing survives a restart); a fault still there comes back', async () => {
    kit.vehicle.setGnssSignal(false);
    kit.vehicle.setBatteryVolts(11.5);
    await kit.host.request('selfTestRun', { testIds: ['gnss-fix', 'supply-voltage'] });
    expect(await kit.host.request('faultCodesClear', {})).toMatchObject({ cleared: 2 });
    expect(await read()).toEqual([]);
    await kit.restart();
    expect(await read()).toEqual([]);
    expect(await kit.host.request('faultCodesClear', {})).toMatchObject({ cleared: 0 });
    await kit.host.request('selfTestRun', { testIds: ['supply-voltage'] });
    expect((await read()).map((f) => [f.code, f.occurrences])).toEqual([['B1C00', 1]]);
  });

  it('on a provisioned module, clearing needs an authorization and a refusal keeps them', async () => {
    await provision(kit);
    await kit.faults.update({ detected: ['B1C21'] });
    kit.reconnect();
    const before = await snapshot(kit.dir);
    const error = await refusal(kit.host.request('faultCodesClear', {}));
    expect(error.code).toBe(ErrorCode.AUTHORIZATION_REQUIRED);
    expect(await snapshot(kit.dir)).toEqual(before);
    expect((await read()).map((f) => f.code)).toEqual(['B1C21']);
    const proof = await authorize(kit);
    await kit.host.request('faultCodesClear', {}, { serviceAuthorization: proof });
    expect(await read()).toEqual([]);
  });

  it('a fault checked again and not found stays stored, no longer active', async () => {
    await kit.faults.update({ detected: ['U1C60', 'B1C51'] });
    await kit.faults.update({ absent: ['B1C51'] });
    const reopened = await FaultMemory.open(kit.storage.records, { now: () => TEST_NOW_MS });
    expect(reopened.faults.map((f) => [f.code, f.active])).toEqual([
      ['B1C51', false],
      ['U1C60', true],
    ]);
  });

  it('refuses a code outside the catalogue and stores nothing', async () => {
    await expect(kit.faults.update({ detected: ['B1C99'] })).rejects.toThrow(/catalogue/);
    expect(kit.faults.faults).toEqual([]);
    expect(await kit.storage.records.get(FAULT_CODES_RECORD)).toBeUndefined();
  });

  it('starts empty from a damaged record instead of stopping the module, and says so', async () => {
    await kit.faults.update({ detected: ['B1C00'] });
    await writeFile(join(kit.dir, 'records', `${FAULT_CODES_RECORD}.rec`), 'garbage');
    await kit.restart();
    expect(await read()).toEqual([]);
    expect(kit.log.read(0, 0).entries.at(-1)).toMatchObject({
      level: 'warn',
      component: 'faults',
      message: expect.stringMatching(/stored fault codes unreadable, starting empty/),
    });
    await kit.faults.update({ detected: ['B1C01'] });
    await kit.restart();
    expect((await read()).map((f) => f.code)).toEqual(['B1C01']);
  });
});
