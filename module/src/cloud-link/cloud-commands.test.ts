/**
 * Cloud commands over MQTT against an in-process aedes broker: each verified, run at most once
 * by id, dropped after its expiry; forged ones refused; retained state never goes back.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { create, fromBinary, toBinary } from '@mini-sharing/shared-protocol/messages';
import { seedSigner, utf8 } from '@mini-sharing/shared-protocol/crypto';
import {
  CloudEnvelopeSchema,
  CommandStatus,
  type CloudBodyInit,
  type CommandResult,
} from '@mini-sharing/shared-protocol/link';
import {
  HolderRole,
  decodeSigned,
  encodeSigned,
  issueCloudKeyCertificate,
  issueRevocationList,
} from '@mini-sharing/shared-protocol/trust';
import { TEST_NOW_MS, testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { RTC_RESET_MS } from '../hal/index.js';
import { startTestBroker, type TestBroker } from './testing/broker.js';
import { waitFor } from './testing/cloud.js';
import { ModuleRig } from './testing/rig.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const token = (n: number) => new Uint8Array(16).fill(n);
const bookingStarted = (n: number): CloudBodyInit => ({
  case: 'bookingStarted',
  value: {
    bookingId: `booking-${n}`,
    tokenId: token(n),
    role: HolderRole.DRIVER,
    bookingEndMs: BigInt(TEST_NOW_MS + DAY),
  },
});
const status = (result: CommandResult) => CommandStatus[result.status];

let broker: TestBroker;
let rig: ModuleRig;

beforeEach(async () => {
  broker = await startTestBroker();
  rig = await ModuleRig.open({ brokerUrl: broker.url });
});

afterEach(async () => {
  await rig.close();
  await broker.close();
});

async function online(): Promise<void> {
  await rig.start({ stateSettleMs: 50 });
  await rig.online();
}

/** Waits for a result with this status (for payloads without a readable id). */
const resultWith = (name: keyof typeof CommandStatus) =>
  waitFor(
    () => rig.cloud.results().find((r) => CommandStatus[r.status] === name),
    `a ${name} result`,
  );

describe('cloud commands', () => {
  it('runs a duplicate command once, also after a power cycle', async () => {
    const { access, cloud } = rig;
    await online();
    const command = await cloud.send(bookingStarted(1));
    expect(status(await cloud.resultFor(command.id))).toBe('OK');

    await cloud.publishRaw('commands', command.bytes);
    expect(status(await cloud.resultFor(command.id, 2))).toBe('REPLAYED');

    // The ids it ran are stored: a restarted module still knows this one.
    await rig.powerCycle({ stateSettleMs: 50 });
    await rig.online();
    await cloud.publishRaw('commands', command.bytes);
    expect(status(await cloud.resultFor(command.id, 3))).toBe('REPLAYED');
    expect(access.count('bookingStarted')).toBe(1);
  });

  it('never runs an expired command', async () => {
    const { access, clock, cloud } = rig;
    await online();
    const late = await cloud.send(bookingStarted(1), {
      issuedAtMs: clock.now() - 10 * MINUTE,
      expiresAtMs: clock.now() - 5 * MINUTE,
    });
    expect(status(await cloud.resultFor(late.id))).toBe('EXPIRED');

    // Valid when sent, expired by the time the module gets to it.
    await rig.stop();
    const queued = await cloud.sign(bookingStarted(2), { expiresAtMs: clock.now() + MINUTE });
    clock.jump(2 * MINUTE);
    await online();
    await cloud.publishRaw('commands', queued.bytes);
    expect(status(await cloud.resultFor(queued.id))).toBe('EXPIRED');
    expect(access.calls).toEqual([]);
  });

  it('refuses unsigned and forged commands', async () => {
    const { access, cloud, fx, clock } = rig;
    await online();

    await cloud.publishRaw('commands', utf8('{"unlock":true}'));
    await resultWith('MALFORMED');

    // A well-formed envelope, but not signed.
    const unsigned = toBinary(
      CloudEnvelopeSchema,
      create(CloudEnvelopeSchema, {
        id: token(0xaa),
        moduleSerial: rig.serial,
        issuedAtMs: BigInt(clock.now()),
        expiresAtMs: BigInt(clock.now() + MINUTE),
        body: bookingStarted(1),
      }),
    );
    await cloud.publishRaw('commands', unsigned);

    // Signed by a key the module does not trust (a phone's).
    const stranger = await cloud.sign(bookingStarted(2), { signer: fx.phone });
    await cloud.publishRaw('commands', stranger.bytes);
    await resultWith('UNKNOWN_SIGNER');

    // The cloud's signature, then the body changed (role raised to owner).
    const genuine = decodeSigned((await cloud.sign(bookingStarted(3))).bytes);
    if (!genuine) throw new Error('the test cloud signs nothing');
    const envelope = fromBinary(CloudEnvelopeSchema, genuine.body);
    if (envelope.body.case === 'bookingStarted') envelope.body.value.role = HolderRole.OWNER;
    const forged = encodeSigned({ ...genuine, body: toBinary(CloudEnvelopeSchema, envelope) });
    await cloud.publishRaw('commands', forged);
    const badSignature = await resultWith('BAD_SIGNATURE');
    // The answer names the id the forged payload claims, so the cloud can match it.
    expect(badSignature.commandId).toEqual(envelope.id);

    // Genuine, but for another module.
    const other = await cloud.send(bookingStarted(4), { serial: 'MSM-24-009999-1' });
    expect(status(await cloud.resultFor(other.id))).toBe('WRONG_MODULE');

    // Signed by a retired cloud key (its certificate ended a year ago): it vouches for nothing now.
    const retired = await cloud.send(bookingStarted(5), { signer: fx.retiredCloud });
    expect(status(await cloud.resultFor(retired.id))).toBe('UNKNOWN_SIGNER');

    // A command body on a state topic.
    const misplaced = await cloud.sign(bookingStarted(6));
    await cloud.publishRaw('booking', misplaced.bytes);
    expect(status(await cloud.resultFor(misplaced.id))).toBe('REFUSED');

    await waitFor(
      () => cloud.results().filter((r) => CommandStatus[r.status] === 'MALFORMED').length === 2,
      'both malformed answered',
    );
    // Payloads that do not decode name no command.
    for (const result of cloud.results()) {
      if (status(result) === 'MALFORMED') expect(result.commandId).toHaveLength(0);
    }
    expect(access.calls).toEqual([]);
  });

  it('refuses an old revocation list replayed', async () => {
    const { access, clock, cloud, fx, serial } = rig;
    const listState = async (sequence: number, issuedAtMs = clock.now()) => {
      const list = await issueRevocationList(fx.cloud, {
        moduleSerial: serial,
        sequence,
        issuedAtMs,
        revoked: [{ tokenId: token(sequence), notAfterMs: clock.now() + DAY }],
      });
      return cloud.sign(
        { case: 'revocationList', value: { revocationList: list } },
        { issuedAtMs, expiresAtMs: issuedAtMs + 7 * DAY },
      );
    };
    const first = await listState(1);
    // Signed by the cloud at the same time, never delivered: a broker's copy of an older state.
    const firstCopy = await listState(1);
    clock.jump(MINUTE);
    const second = await listState(2);
    await cloud.publishRaw('revocation-list', first.bytes, true);
    await online();
    expect(status(await cloud.resultFor(first.id))).toBe('OK');
    await cloud.publishRaw('revocation-list', second.bytes, true);
    expect(status(await cloud.resultFor(second.id))).toBe('OK');
    expect(access.revocationList?.sequence).toBe(2n);

    // The same message again: replayed. An older one never applied: stale.
    await cloud.publishRaw('revocation-list', second.bytes, true);
    expect(status(await cloud.resultFor(second.id, 2))).toBe('REPLAYED');
    await cloud.publishRaw('revocation-list', firstCopy.bytes, true);
    expect(status(await cloud.resultFor(firstCopy.id))).toBe('STALE');

    // A fresh envelope around the old list: the list's own sequence keeps the newer one.
    clock.jump(MINUTE);
    const rewrapped = await listState(1);
    await cloud.publishRaw('revocation-list', rewrapped.bytes, true);
    expect(status(await cloud.resultFor(rewrapped.id))).toBe('STALE');
    expect(access.revocationList?.sequence).toBe(2n);

    // After a power cycle too: what the module applied is stored.
    await cloud.publishRaw('revocation-list', second.bytes, true);
    expect(status(await cloud.resultFor(second.id, 3))).toBe('REPLAYED');
    await rig.powerCycle({ stateSettleMs: 50 });
    await rig.online();
    expect(status(await cloud.resultFor(second.id, 4))).toBe('REPLAYED');
    const firstCopyAgain = await listState(1, TEST_NOW_MS);
    await cloud.publishRaw('revocation-list', firstCopyAgain.bytes, true);
    expect(status(await cloud.resultFor(firstCopyAgain.id))).toBe('STALE');
    expect(access.revocationList?.sequence).toBe(2n);
    expect(access.calls.filter((c) => c.method === 'applyRevocationList')).toEqual([
      { method: 'applyRevocationList', sequence: 1n, accepted: true },
      { method: 'applyRevocationList', sequence: 2n, accepted: true },
      { method: 'applyRevocationList', sequence: undefined, accepted: false },
    ]);
  });

  it('time sync: the only command a module with a lost clock takes; an older one changes nothing', async () => {
    const { access, clock, cloud } = rig;
    clock.loseTime();
    await online();
    const early = await cloud.send(bookingStarted(1), { issuedAtMs: TEST_NOW_MS });
    expect(status(await cloud.resultFor(early.id))).toBe('CLOCK_UNTRUSTED');

    const sync = await cloud.send(
      { case: 'timeSync', value: { cloudTimeMs: BigInt(TEST_NOW_MS) } },
      { issuedAtMs: TEST_NOW_MS },
    );
    expect(status(await cloud.resultFor(sync.id))).toBe('OK');
    expect(clock.timeKnown).toBe(true);
    expect(clock.now()).toBe(TEST_NOW_MS);

    const again = await cloud.send(bookingStarted(1), { issuedAtMs: TEST_NOW_MS });
    expect(status(await cloud.resultFor(again.id))).toBe('OK');

    // An old time sync (a new id, so not a replay by id) is below the trusted floor.
    const old = await cloud.send(
      { case: 'timeSync', value: { cloudTimeMs: BigInt(TEST_NOW_MS - DAY) } },
      { issuedAtMs: TEST_NOW_MS - DAY },
    );
    expect(status(await cloud.resultFor(old.id))).toBe('STALE');
    expect(clock.now()).toBe(TEST_NOW_MS);
    expect(clock.now()).not.toBe(RTC_RESET_MS);
    expect(access.trustedFloorMs).toBe(TEST_NOW_MS);
  });

  it('cloud key rotation: adds a key the root certified, drops retired ones, durably', async () => {
    const { clock, cloud, fx } = rig;
    await online();
    const next = seedSigner(testSeed('cloud signing 2'));
    const certificate = await issueCloudKeyCertificate(fx.root, {
      publicKey: next.publicKey,
      notBeforeMs: clock.now() - DAY,
      notAfterMs: clock.now() + 365 * DAY,
    });

    // Certified by a signing key instead of the root: refused.
    const rogue = await issueCloudKeyCertificate(fx.cloud, {
      publicKey: next.publicKey,
      notBeforeMs: clock.now() - DAY,
      notAfterMs: clock.now() + 365 * DAY,
    });
    const refused = await cloud.send({
      case: 'cloudKeyRotation',
      value: { cloudKeyCertificate: rogue, retiredKeyIds: [] },
    });
    expect(status(await cloud.resultFor(refused.id))).toBe('REFUSED');
    expect(
      status(await cloud.resultFor((await cloud.send(bookingStarted(1), { signer: next })).id)),
    ).toBe('UNKNOWN_SIGNER');

    const rotation = await cloud.send({
      case: 'cloudKeyRotation',
      value: { cloudKeyCertificate: certificate, retiredKeyIds: [fx.cloud.keyId] },
    });
    expect(status(await cloud.resultFor(rotation.id))).toBe('OK');
    const byNext = await cloud.send(bookingStarted(2), { signer: next });
    expect(status(await cloud.resultFor(byNext.id))).toBe('OK');
    const byRetired = await cloud.send(bookingStarted(3));
    expect(status(await cloud.resultFor(byRetired.id))).toBe('UNKNOWN_SIGNER');

    // The same announcement again (the cloud repeats it when a module comes online): OK, and
    // nothing is written.
    const writes = vi.spyOn(rig.identity, 'replaceCloudKeyCertificates');
    const repeated = await cloud.send(
      { case: 'cloudKeyRotation', value: { cloudKeyCertificate: certificate, retiredKeyIds: [] } },
      { signer: next },
    );
    const repeatedResult = await cloud.resultFor(repeated.id);
    expect(status(repeatedResult)).toBe('OK');
    expect(repeatedResult.message).toMatch(/already held/);
    expect(writes).not.toHaveBeenCalled();
    writes.mockRestore();

    await rig.powerCycle({ stateSettleMs: 50 });
    await rig.online();
    expect(rig.identity.provisioned?.keyRing.signingKeys.map((k) => k.keyId)).toContainEqual(
      next.keyId,
    );
    const afterRestart = await cloud.send(bookingStarted(4), { signer: next });
    expect(status(await cloud.resultFor(afterRestart.id))).toBe('OK');
  });

  it('new-owner reset: confirmed only with both physical keys in the cabin', async () => {
    const { access, car, cloud } = rig;
    await online();
    car.state.keysInCabin = 1;
    const first = await cloud.send({ case: 'newOwnerReset', value: { ownerGeneration: 2 } });
    const refused = await cloud.resultFor(first.id);
    expect(status(refused)).toBe('REFUSED');
    expect(refused.message).toMatch(/both physical keys/i);
    expect(access.ownerGeneration).toBe(1);

    car.state.keysInCabin = 2;
    const second = await cloud.send({ case: 'newOwnerReset', value: { ownerGeneration: 2 } });
    expect(status(await cloud.resultFor(second.id))).toBe('OK');
    expect(access.ownerGeneration).toBe(2);
    expect(access.revocationList).toBeUndefined();

    // A booking of the previous owner's era, replayed by the broker, does not come back.
    const oldBooking = await cloud.send(
      {
        case: 'bookingState',
        value: {
          running: {
            bookingId: 'booking-old-owner',
            tokenId: token(8),
            role: HolderRole.DRIVER,
            startedAtMs: BigInt(TEST_NOW_MS - DAY),
            bookingEndMs: BigInt(TEST_NOW_MS + DAY),
          },
        },
      },
      { issuedAtMs: TEST_NOW_MS - MINUTE, expiresAtMs: TEST_NOW_MS + DAY },
    );
    expect(status(await cloud.resultFor(oldBooking.id))).toBe('STALE');
    expect(access.runningBooking).toBeUndefined();
  });

  it('commands wait until the retained state is applied', async () => {
    const { access, cloud, clock, fx, serial } = rig;
    const list = await issueRevocationList(fx.cloud, {
      moduleSerial: serial,
      sequence: 4,
      issuedAtMs: clock.now(),
      revoked: [],
    });
    await cloud.send(
      { case: 'revocationList', value: { revocationList: list } },
      { expiresAtMs: clock.now() + DAY },
    );
    // No booking state retained: the module waits the settle time for it, then goes on.
    await rig.start({ stateSettleMs: MINUTE });
    await waitFor(() => access.count('applyRevocationList') === 1, 'the retained list');
    expect(rig.link?.status.state).toBe('syncing');
    const command = await cloud.send(bookingStarted(1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(access.count('bookingStarted')).toBe(0);

    clock.jump(MINUTE);
    expect(status(await cloud.resultFor(command.id))).toBe('OK');
    expect(rig.link?.status.state).toBe('online');
    expect(access.calls.map((c) => c.method)).toEqual(['applyRevocationList', 'bookingStarted']);
  });
});
