import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, ProvisioningState } from '@mini-sharing/shared-protocol/messages';
import { recoveryDeviceHandlers } from '../boot/boot-loader.js';
import { writeBootState } from './boot-records.js';
import { IdentityStore } from './identity.js';
import { RESET_REBOOT_DELAY_MS } from './factory-reset.js';
import { randomBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import { HolderRole } from '@mini-sharing/shared-protocol/trust';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { COMMAND_MEMORY_RECORD, CommandMemory } from '../cloud-link/command-memory.js';
import { AccessController } from '../keyless/access-controller.js';
import {
  ACCESS_STATE_RECORD,
  AccessStateStore,
  emptyAccessState,
} from '../keyless/access-state.js';
import {
  FakeVehicle,
  ManualModuleClock,
  issueTestKey,
  keylessFixtures,
  newTokenId,
} from '../keyless/testing/index.js';
import {
  authorize,
  openServiceKit,
  provision,
  refusal,
  snapshot,
  type ServiceKit,
} from './service-test-kit.js';

const DAY_MS = 24 * 3_600_000;

let kit: ServiceKit;
beforeEach(async () => {
  kit = await openServiceKit();
});
afterEach(() => kit.close());

const reset = (confirmModuleSerial: string, proof?: Uint8Array) =>
  kit.host.request(
    'factoryReset',
    { confirmModuleSerial },
    proof ? { serviceAuthorization: proof } : {},
  );

/** A provisioned module with what an owner's use leaves: faults, log lines, an owner record. */
async function usedModule() {
  await provision(kit);
  await writeBootState(kit.storage.records, { active: 'A' });
  await kit.storage.records.put('security-counter', new TextEncoder().encode('{"counter":3}'));
  await kit.storage.records.putJson('owner-keys', { keys: ['k1'] }, (v): v is object => !!v);
  await kit.faults.update({ detected: ['B1C51', 'U1C60'] });
  for (let i = 0; i < 80; i++) kit.log.append('info', 'test', `owner trip ${i}`);
  kit.reconnect();
}

describe('factory reset', () => {
  it("refuses another module's serial, or none, and changes nothing", async () => {
    await usedModule();
    const proof = await authorize(kit);
    const before = await snapshot(kit.dir);
    for (const serial of ['MSM-24-000001-1', '', 'not a serial']) {
      const error = await refusal(reset(serial, proof));
      expect(error.code).toBe(ErrorCode.BAD_REQUEST);
      expect(error.message).toMatch(/nothing was reset/);
      expect(error.message).toContain(kit.fx.moduleSerial);
    }
    expect(await snapshot(kit.dir)).toEqual(before);
    expect(kit.identity.state).toBe(ProvisioningState.PROVISIONED);
    expect(kit.reboots).toBe(0);
  });

  it('needs an authorization on a provisioned module; a refusal changes nothing', async () => {
    await usedModule();
    const before = await snapshot(kit.dir);
    const error = await refusal(reset(kit.fx.moduleSerial));
    expect(error.code).toBe(ErrorCode.AUTHORIZATION_REQUIRED);
    expect(await snapshot(kit.dir)).toEqual(before);
    expect(kit.identity.state).toBe(ProvisioningState.PROVISIONED);
    expect(kit.faults.faults).toHaveLength(2);
  });

  it('wipes identity, fault codes, log and owner data, keeps the firmware, answers, then restarts unprovisioned', async () => {
    await usedModule();
    const proof = await authorize(kit);
    const noteSequence = kit.log.nextSequence;
    // Any spelling of this module's serial confirms it.
    const answer = await reset(kit.fx.moduleSerial.toLowerCase().replace('msm-', ''), proof);
    expect(answer.rebootInMs).toBe(RESET_REBOOT_DELAY_MS);
    expect(kit.reboots).toBe(0); // the answer goes out first
    await new Promise((resolve) => setTimeout(resolve, RESET_REBOOT_DELAY_MS + 50));
    expect(kit.reboots).toBe(1);

    expect(kit.identity.state).toBe(ProvisioningState.UNPROVISIONED);
    expect(kit.faults.faults).toEqual([]);
    const records = (await kit.storage.records.list()).filter((n) => !n.startsWith('log-'));
    expect(records).toEqual(['boot-state', 'security-counter']);
    const log = kit.log.read(0, 0).entries;
    expect(log[0]).toMatchObject({
      sequence: noteSequence,
      message: expect.stringMatching(/^factory reset/),
    });

    await kit.restart();
    const hello = await kit.host.request('hello', { protocolMajor: 1, host: 'test' });
    expect(hello.provisioningState).toBe(ProvisioningState.UNPROVISIONED);
    expect((await kit.host.request('faultCodesRead', {})).faultCodes).toEqual([]);
    const entries = (await kit.host.request('logRead', { fromSequence: 0n, maxEntries: 0 }))
      .entries;
    expect(entries.every((e) => !e.message.startsWith('owner trip'))).toBe(true);
    expect(Number(entries[0]?.sequence)).toBe(noteSequence);
    // Unprovisioned: the next reset needs no authorization (a cut mid-reset can be repeated).
    await reset(kit.fx.moduleSerial);
  });

  it('answers BUSY while a self-test runs', async () => {
    kit.vehicle.setGnssSignal(false);
    const running = kit.host.request('selfTestRun', { testIds: ['gnss-fix'] });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const error = await refusal(reset(kit.fx.moduleSerial));
    expect(error.code).toBe(ErrorCode.BUSY);
    await running;
    expect(kit.reboots).toBe(0);
  });

  it("the boot loader's recovery service reports the stored provisioning state", async () => {
    const recovery = async () => {
      const identity = await IdentityStore.open(kit.storage.records, kit.fx.root.publicKey);
      const handlers = recoveryDeviceHandlers(
        {
          moduleSerial: kit.fx.moduleSerial,
          hardwareRevision: 'HW-C',
          storageDir: kit.dir,
          serialPort: '/dev/null',
          vehicleBus: '/dev/null',
        },
        { activeSlot: 'A', identity, readSupplyMillivolts: async () => 13_600 },
      );
      const context = {} as never;
      const hello = await handlers.hello?.({} as never, context);
      const info = await handlers.deviceInfo?.({} as never, context);
      return [hello?.provisioningState, info?.provisioningState];
    };
    expect(await recovery()).toEqual([
      ProvisioningState.UNPROVISIONED,
      ProvisioningState.UNPROVISIONED,
    ]);
    await provision(kit);
    expect(await recovery()).toEqual([
      ProvisioningState.PROVISIONED,
      ProvisioningState.PROVISIONED,
    ]);
    kit.reconnect();
    await reset(kit.fx.moduleSerial, await authorize(kit));
    expect(await recovery()).toEqual([
      ProvisioningState.UNPROVISIONED,
      ProvisioningState.UNPROVISIONED,
    ]);
  });
  it('keeps what keeps used keys and cloud commands dead: a clock set back or an old key gets nothing back', async () => {
    await usedModule();
    const f = await keylessFixtures();
    const floorMs = TEST_NOW_MS + 10 * DAY_MS;
    const revoked = newTokenId();
    await new AccessStateStore(kit.storage.records).save({
      ...emptyAccessState(),
      trustedTimeFloorMs: floorMs,
      ownerGeneration: 2,
      revocation: {
        sequence: '7',
        revoked: [{ tokenId: toHex(revoked), notAfterMs: floorMs + DAY_MS }],
      },
      revocationSequenceFloor: '7',
    });
    const memory = await CommandMemory.open(kit.storage.records);
    const commandId = randomBytes(16);
    await memory.remember(
      commandId,
      { issuedAtMs: floorMs, expiresAtMs: floorMs + 300_000 },
      floorMs,
    );
    await memory.markApplied(['booking', 'revocation-list'], floorMs);
    const kept = async () => ({
      access: await kit.storage.records.get(ACCESS_STATE_RECORD),
      commands: await kit.storage.records.get(COMMAND_MEMORY_RECORD),
    });
    const before = await kept();

    await reset(kit.fx.moduleSerial, await authorize(kit));
    expect(await kept()).toEqual(before);
    expect(before.access).toBeDefined();
    expect(before.commands).toBeDefined();
    expect((await CommandMemory.open(kit.storage.records)).isReplay(commandId, floorMs)).toBe(true);

    // Re-provisioned (the same cloud keys): the module still refuses what it refused before.
    const clock = new ManualModuleClock(TEST_NOW_MS); // set back, below the floor
    const controller = await AccessController.open({
      moduleSerial: f.moduleSerial,
      keyRing: () => f.keyRing,
      vehicle: new FakeVehicle(),
      clock,
      store: new AccessStateStore(kit.storage.records),
      log: () => {},
    });
    try {
      const ownerKey = async (ownerGeneration: number, tokenId?: Uint8Array) =>
        (
          await issueTestKey(f, {
            role: HolderRole.OWNER,
            nowMs: floorMs,
            fields: { ownerGeneration, ...(tokenId ? { tokenId } : {}) },
          })
        ).token;
      const reason = async (token: Uint8Array) => {
        const answer = await controller.presentKey(token);
        return answer.ok ? 'accepted' : answer.reason;
      };
      expect(await reason(await ownerKey(2))).toBe('clock-below-trusted-time');
      await clock.setTime(floorMs + 3_600_000);
      expect(await reason(await ownerKey(1))).toBe('stale-owner-generation');
      expect(await reason(await ownerKey(2, revoked))).toBe('revoked');
      expect(await reason(await ownerKey(2))).toBe('accepted');
    } finally {
      await controller.close();
    }
  });
});
