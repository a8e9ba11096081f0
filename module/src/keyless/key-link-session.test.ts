// The key link session on its own (no BLE): the message rules of PROTOCOL.md 15.3-15.5 as the
// module answers them, through the phone-side client and raw writes.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ResultCode,
  buildKeyLinkMessage,
  chunkKeyLinkMessage,
  encodeKeyLinkMessage,
  decodeKeyLinkMessage,
  KeyLinkReassembler,
  type KeyLinkMessage,
} from '@mini-sharing/shared-protocol/gatt';
import { concatBytes } from '@mini-sharing/shared-protocol/crypto';
import { CommandKind, HolderRole } from '@mini-sharing/shared-protocol/trust';
import { KEYLESS_CHALLENGE_VALID_FOR_MS, KeyLinkSession } from './key-link-session.js';
import {
  KeyLinkClient,
  TEST_NOW_MS,
  inProcessTransport,
  issueTestKey,
  keylessFixtures,
  type KeylessFixtures,
} from './testing/index.js';
import { startInProcessRig, type InProcessRig } from './testing/in-process-rig.js';

let f: KeylessFixtures;
beforeAll(async () => {
  f = await keylessFixtures();
});

/** A session whose answers are collected as whole messages. */
function rawSession(rig: InProcessRig, mtu = 23) {
  const session = new KeyLinkSession({ access: rig.controller, clock: rig.clock, log: rig.log });
  const reassembler = new KeyLinkReassembler();
  const answers: KeyLinkMessage[] = [];
  const chunks: Uint8Array[] = [];
  session.attach((chunk) => {
    chunks.push(chunk);
    for (const bytes of reassembler.push(chunk)) {
      const decoded = decodeKeyLinkMessage(bytes);
      if (decoded.ok) answers.push(decoded.message);
    }
  }, mtu);
  return { session, answers, chunks };
}

const resultCode = (message: KeyLinkMessage | undefined) =>
  message?.body.case === 'result' ? ResultCode[message.body.value.code] : message?.body.case;

describe('key link session', () => {
  it('answers a presented key with a challenge of a few seconds, carrying the list sequence', async () => {
    const rig = await startInProcessRig(f);
    const owner = await issueTestKey(f, { role: HolderRole.OWNER });
    const { phone } = rig.connect();
    const { challenge } = await phone.presentKey(owner.token);
    expect(challenge).toMatchObject({
      validForMs: KEYLESS_CHALLENGE_VALID_FOR_MS,
      moduleTimeMs: BigInt(TEST_NOW_MS),
      revocationListSequence: 0n,
    });
    expect(challenge?.nonce.length).toBe(16);
    // Accepted commands bring the next challenge; each challenge answers one command only.
    const unlocked = await phone.command(CommandKind.UNLOCK);
    expect(unlocked.nextChallenge?.nonce).not.toEqual(challenge?.nonce);
    await rig.close();
  });

  it('needs a token before commands, challenges and status', async () => {
    const rig = await startInProcessRig(f);
    const { phone } = rig.connect();
    for (const kind of ['challengeRequest', 'statusRequest', 'command'] as const) {
      const answer = await phone.request(
        kind,
        kind === 'command' ? { command: new Uint8Array([1]) } : {},
      );
      expect(resultCode(answer)).toBe('TOKEN_REQUIRED');
    }
    await rig.close();
  });

  it('reports status with when the key ends', async () => {
    const rig = await startInProcessRig(f);
    const driver = await issueTestKey(f, { role: HolderRole.DRIVER });
    const { phone } = rig.connect();
    await phone.presentKey(driver.token);
    const { status } = await phone.status();
    expect(status).toMatchObject({
      carState: { locked: true, allClosed: true, ignitionOn: false, driveEnabled: false },
      accessEndsAtMs: BigInt(driver.notAfterMs),
    });
    await rig.close();
  });

  it('refuses module kinds, malformed messages and a second request while one runs', async () => {
    const rig = await startInProcessRig(f);
    const { session, answers } = rawSession(rig);
    const challenge = buildKeyLinkMessage('challenge', { nonce: new Uint8Array(16) }, 7);
    for (const chunk of chunkKeyLinkMessage(encodeKeyLinkMessage(challenge), 23)) {
      await session.write(chunk);
    }
    await session.write(Uint8Array.of(3, 0, 0xff, 0xff, 0xff)); // length 3, not protobuf
    const two = concatBytes(
      ...chunkKeyLinkMessage(
        encodeKeyLinkMessage(buildKeyLinkMessage('statusRequest', {}, 1)),
        517,
      ),
      ...chunkKeyLinkMessage(
        encodeKeyLinkMessage(buildKeyLinkMessage('statusRequest', {}, 2)),
        517,
      ),
    );
    await session.write(two);
    expect(answers.map((answer) => [answer.requestId, resultCode(answer)])).toEqual([
      [7, 'UNSUPPORTED'],
      [0, 'MALFORMED'],
      [2, 'BUSY'],
      [1, 'TOKEN_REQUIRED'],
    ]);
    expect(session.stats).toMatchObject({ malformed: 1, busy: 1 });
    await rig.close();
  });

  it('chunks answers to the MTU and refuses writes longer than an attribute value', async () => {
    const rig = await startInProcessRig(f);
    const session = new KeyLinkSession({ access: rig.controller, clock: rig.clock, log: rig.log });
    await session.write(new Uint8Array(513));
    expect(session.stats.writesRefused).toBe(1);
    const owner = await issueTestKey(f, { role: HolderRole.OWNER });
    const transport = inProcessTransport(session, 23);
    const chunks: Uint8Array[] = [];
    transport.onNotification((chunk) => chunks.push(chunk));
    const phone = new KeyLinkClient(transport, f.phone);
    expect((await phone.presentKey(owner.token)).challenge).toBeDefined();
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((chunk) => chunk.length <= 20)).toBe(true);
    await rig.close();
  });

  it('drops the outstanding challenge when the clock goes back', async () => {
    const rig = await startInProcessRig(f);
    const owner = await issueTestKey(f, { role: HolderRole.OWNER });
    const { session, phone } = rig.connect();
    await phone.presentKey(owner.token);
    session.dropChallenge();
    expect((await phone.sendCommand(await phone.signCommand(CommandKind.UNLOCK))).code).toBe(
      ResultCode.CHALLENGE_MISMATCH,
    );
    expect(rig.vehicle.actuations).toEqual([]);
    await rig.close();
  });
});
