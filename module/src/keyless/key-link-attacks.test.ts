// The attacks of issue #7 against the real handlers in one process (the same scenarios run over
// the virtual air in test/keyless-ble.e2e.test.ts): each refused with its reason, the reason in
// the module log, nothing actuated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandKind, HolderRole } from '@mini-sharing/shared-protocol/trust';
import { ResultCode } from '@mini-sharing/shared-protocol/gatt';
import { keylessFixtures, type KeylessFixtures } from './testing/index.js';
import { startInProcessRig, type InProcessRig } from './testing/in-process-rig.js';
import { ATTACK_SCENARIOS, worldKey, type AttackWorld } from './testing/attack-scenarios.js';

let f: KeylessFixtures;
let rig: InProcessRig;
let world: AttackWorld;

beforeAll(async () => {
  f = await keylessFixtures();
  rig = await startInProcessRig(f);
  world = {
    f,
    get controller() {
      return rig.controller;
    },
    connect: async (device) => {
      const { session, phone } = rig.connect(device);
      return { client: phone, close: async () => session.close() };
    },
    advanceClock: async (ms) => {
      rig.clock.advance(ms);
      await rig.controller.settled();
    },
    setClockBack: async (ms) => rig.clock.setBack(ms),
    nowMs: () => rig.clock.now(),
    setKeysInCabin: async (count) => rig.vehicle.setKeysInCabin(count),
    logs: () => rig.logs,
    attack: async (step) => {
      const before = rig.vehicle.actuations.length;
      const result = await step();
      return { result, actuations: rig.vehicle.actuations.length - before };
    },
  };
});
afterAll(() => rig.close());

describe('attacks on the key link, in one world one after another', () => {
  it('an honest owner opens the car first (the world works)', async () => {
    const key = await worldKey(world, { role: HolderRole.OWNER });
    const phone = await world.connect();
    expect((await phone.client.presentKey(key.token)).challenge).toBeDefined();
    expect((await phone.client.command(CommandKind.UNLOCK)).code).toBe(ResultCode.OK);
  });

  for (const scenario of ATTACK_SCENARIOS) {
    it(`refuses ${scenario.name}`, async () => {
      const logged = world.logs().length;
      const { result, actuations } = await scenario.run(world);
      expect(ResultCode[result.code]).toBe(ResultCode[scenario.expected]);
      expect(result.message).not.toBe('');
      expect(actuations).toBe(0);
      expect(world.logs().slice(logged).join('\n')).toContain(scenario.logged);
    });
  }
});
