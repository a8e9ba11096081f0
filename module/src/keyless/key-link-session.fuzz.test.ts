// 100,000 fuzzed key-link writes against the real handlers (KeyLinkSession on the real
// AccessController, its stored state on a simulated flash, an in-process car), fast-check: raw
// garbage, valid framing around garbage, well-formed messages of every kind with random or
// mutated genuine contents (token, command, revocation list), at random MTUs and splits. The
// module must never throw, never actuate, never accept, and its stored state must not change.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ATT_MAX_VALUE_SIZE,
  buildKeyLinkMessage,
  chunkKeyLinkMessage,
  encodeKeyLinkMessage,
  type KeyLinkInitOf,
  type KeyLinkKind,
} from '@mini-sharing/shared-protocol/gatt';
import { CommandKind, HolderRole } from '@mini-sharing/shared-protocol/trust';
import { KeyLinkSession } from './key-link-session.js';
import { ACCESS_STATE_RECORD } from './access-state.js';
import {
  issueTestKey,
  issueTestRevocationList,
  keylessFixtures,
  KeyLinkClient,
  inProcessTransport,
} from './testing/index.js';
import { startInProcessRig, type InProcessRig } from './testing/in-process-rig.js';

const TARGET_WRITES = 100_000;

let rig: InProcessRig;
let genuine: { token: Uint8Array; command: Uint8Array; list: Uint8Array };

beforeAll(async () => {
  const f = await keylessFixtures();
  rig = await startInProcessRig(f);
  const owner = await issueTestKey(f, { role: HolderRole.OWNER });
  // Present it once (raising the time floor to its issue time), and record a genuine command
  // signed for a challenge that is gone by the time the fuzzer replays it.
  const phone = new KeyLinkClient(
    inProcessTransport(
      new KeyLinkSession({ access: rig.controller, clock: rig.clock, log: rig.log }),
    ),
    f.phone,
  );
  await phone.presentKey(owner.token);
  const command = await phone.signCommand(CommandKind.UNLOCK, { counter: 1n });
  await phone.sendCommand(command);
  const list = await issueTestRevocationList(f, 1, []);
  await rig.controller.applyRevocationList(list);
  genuine = { token: owner.token, command, list };
});
afterAll(() => rig.close());

/** Genuine bytes with a few random bytes changed (or cut, or extended). */
const mutated = (bytes: () => Uint8Array) =>
  fc
    .record({
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 3,
      }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ edits, cut }) => {
      let out = bytes().slice();
      for (const edit of edits) out[edit.at % out.length] = edit.value;
      if (cut !== undefined) out = out.slice(0, cut % (out.length + 1));
      return out;
    });

const blob = fc.uint8Array({ maxLength: 300 });

/** A well-formed message of any kind; contents random or mutated from genuine ones. */
const message = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom<KeyLinkKind>('challengeRequest', 'statusRequest') },
    { weight: 2, arbitrary: fc.constantFrom<KeyLinkKind>('challenge', 'result', 'status') },
    { weight: 5, arbitrary: fc.constant<KeyLinkKind>('presentToken') },
    { weight: 5, arbitrary: fc.constant<KeyLinkKind>('command') },
    { weight: 3, arbitrary: fc.constant<KeyLinkKind>('revocationListRelay') },
  )
  .chain((kind) => {
    const body = (() => {
      switch (kind) {
        case 'presentToken':
          return fc
            .oneof(
              { weight: 8, arbitrary: blob },
              { weight: 1, arbitrary: mutated(() => genuine.token) },
              { weight: 1, arbitrary: fc.constant(null) },
            )
            .map((token) => ({ token: token ?? genuine.token }));
        case 'command':
          return fc
            .oneof(
              { weight: 8, arbitrary: blob },
              { weight: 1, arbitrary: mutated(() => genuine.command) },
              { weight: 1, arbitrary: fc.constant(null) },
            )
            .map((command) => ({ command: command ?? genuine.command }));
        case 'revocationListRelay':
          return fc
            .oneof(
              { weight: 6, arbitrary: blob },
              { weight: 1, arbitrary: mutated(() => genuine.list) },
              { weight: 1, arbitrary: fc.constant(null) },
            )
            .map((revocationList) => ({ revocationList: revocationList ?? genuine.list }));
        case 'challenge':
          return blob.map((nonce) => ({ nonce }));
        case 'result':
          return fc.nat({ max: 50 }).map((code) => ({ code }));
        default:
          return fc.constant({});
      }
    })();
    return fc
      .tuple(body, fc.nat({ max: 0xffff }))
      .map(([value, requestId]) =>
        encodeKeyLinkMessage(
          buildKeyLinkMessage(kind, value as KeyLinkInitOf<typeof kind>, requestId),
        ),
      );
  });

/** The writes one step sends: chunked messages, framed garbage, or raw garbage. */
const step = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(message, fc.integer({ min: 23, max: 517 }))
      .map(([bytes, mtu]) => (bytes.length === 0 ? [] : chunkKeyLinkMessage(bytes, mtu))),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 0xffff })),
        fc.uint8Array({ maxLength: 200 }),
      )
      .map(([length, rest]) => [Uint8Array.of(length & 0xff, length >> 8, ...rest)]),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: ATT_MAX_VALUE_SIZE + 8 }).map((b) => [b]) },
);

describe('fuzzed key-link writes', () => {
  it(
    `${TARGET_WRITES.toLocaleString('en')} writes: no crash, no actuation, no state change`,
    { timeout: 600_000 },
    async () => {
      const stateBefore = rig.controller.snapshot();
      const recordBefore = await rig.records.get(ACCESS_STATE_RECORD);
      const actuationsBefore = rig.vehicle.actuations.length;
      const accepted = () =>
        rig.events.filter((event) => event.type === 'key-used' && event.result === 'ok').length;
      const acceptedBefore = accepted();
      let writes = 0;
      let messages = 0;
      const sessions: KeyLinkSession[] = [];
      const connect = (mtu: number) => {
        const session = new KeyLinkSession({
          access: rig.controller,
          clock: rig.clock,
          log: () => {},
        });
        session.attach(() => {}, mtu);
        sessions.push(session);
        return session;
      };
      let session = connect(247);

      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 23, max: 517 }),
          fc.boolean(),
          async (steps, mtu, disconnect) => {
            for (const chunks of steps) {
              for (const chunk of chunks) {
                if (writes >= TARGET_WRITES) return;
                writes++;
                await session.write(chunk);
              }
            }
            // A disconnect: fresh per-connection state, as after a real one.
            if (disconnect) {
              messages += session.stats.messages;
              session.close();
              session = connect(mtu);
            }
          },
        ),
        { numRuns: 50_000, seed: 7, endOnFailure: true },
      );
      messages += session.stats.messages;
      // Top up with raw writes if the runs were short of the target.
      for (; writes < TARGET_WRITES; writes++) {
        await session.write(Uint8Array.of(writes & 0xff, (writes >> 8) & 0xff, writes >> 16));
      }

      expect(sessions.reduce((sum, s) => sum + s.stats.writes, 0)).toBe(TARGET_WRITES);
      // The fuzzing reached the handlers, not just the reassembler.
      expect(messages).toBeGreaterThan(8_000);
      expect(rig.events.filter((event) => event.type === 'key-used').length).toBeGreaterThan(1_500);
      expect(writes).toBe(TARGET_WRITES);
      expect(rig.vehicle.actuations.length).toBe(actuationsBefore);
      expect(accepted()).toBe(acceptedBefore);
      expect(rig.controller.snapshot()).toEqual(stateBefore);
      expect(await rig.records.get(ACCESS_STATE_RECORD)).toEqual(recordBefore);
    },
  );
});
