// Keyless access policy in one process (no BLE): the real AccessController and KeyLinkSession on a
// simulated flash, an in-process car and a manual module clock. Roles, the overdue rule, bookings
// and what the cloud tells the module. Attacks: key-link-attacks.test.ts.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommandKind, HolderRole } from '@mini-sharing/shared-protocol/trust';
import { ResultCode } from '@mini-sharing/shared-protocol/gatt';
import { positionAllowed } from '@mini-sharing/shared-protocol/link';
import { create } from '@bufbuild/protobuf';
import {
  BookingEndedSchema,
  BookingStartedSchema,
  NewOwnerResetSchema,
} from '@mini-sharing/shared-protocol/link';
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  HOUR_MS,
  MINUTE_MS,
  TEST_NOW_MS,
  issueTestKey,
  issueTestRevocationList,
  keylessFixtures,
  type KeylessFixtures,
} from './testing/index.js';
import { startInProcessRig, type InProcessRig } from './testing/in-process-rig.js';

let f: KeylessFixtures;
beforeAll(async () => {
  f = await keylessFixtures();
});

const rigs: InProcessRig[] = [];
afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.close();
});
async function rig(): Promise<InProcessRig> {
  const started = await startInProcessRig(f);
  rigs.push(started);
  return started;
}

/** Presents `token` on a new connection and sends `kind`; the module's result code. */
async function use(r: InProcessRig, token: Uint8Array, kinds: CommandKind[], device = f.phone) {
  const { phone } = r.connect(device);
  const presented = await phone.presentKey(token);
  if (presented.result) return [presented.result.code];
  const codes: ResultCode[] = [];
  for (const kind of kinds) codes.push((await phone.command(kind)).code);
  return codes;
}

describe('roles', () => {
  it("the owner's key opens, enables drive and locks at any time", async () => {
    const r = await rig();
    const owner = await issueTestKey(f, { role: HolderRole.OWNER });
    expect(await use(r, owner.token, [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE])).toEqual([
      ResultCode.OK,
      ResultCode.OK,
    ]);
    expect(r.vehicle.state).toMatchObject({ locked: false, immobilizerReleased: true });
    r.clock.advance(20 * 24 * HOUR_MS); // weeks later, no booking anywhere
    expect(await use(r, owner.token, [CommandKind.LOCK])).toEqual([ResultCode.OK]);
    expect(r.vehicle.state.locked).toBe(true);
    expect(r.controller.runningBooking).toBeUndefined(); // an owner's key starts no booking
  });

  it("a driver's key inside its window; its first use starts the booking at the car", async () => {
    const r = await rig();
    const driver = await issueTestKey(f, { role: HolderRole.DRIVER, bookingId: 'B-7' });
    expect(await use(r, driver.token, [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE])).toEqual([
      ResultCode.OK,
      ResultCode.OK,
    ]);
    const booking = r.controller.runningBooking;
    expect(booking).toMatchObject({ bookingId: 'B-7', role: HolderRole.DRIVER });
    expect(booking && positionAllowed(booking)).toBe(false);
    expect(r.events.find((event) => event.type === 'booking-started-at-car')).toMatchObject({
      booking: { bookingId: 'B-7', source: 'first-key-use', notAfterMs: driver.notAfterMs },
    });
    const used = r.events.filter((event) => event.type === 'key-used');
    expect(used.map((event) => event.type === 'key-used' && event.command)).toEqual([
      CommandKind.UNLOCK,
      CommandKind.ENABLE_DRIVE,
    ]);
  });

  it("a driver's key before its window is refused, and nothing moves", async () => {
    const r = await rig();
    const early = await issueTestKey(f, {
      role: HolderRole.DRIVER,
      fields: { notBeforeMs: BigInt(TEST_NOW_MS + HOUR_MS) },
    });
    expect(await use(r, early.token, [])).toEqual([ResultCode.NOT_YET_VALID]);
    expect(r.vehicle.actuations).toEqual([]);
    expect(r.logs.some((line) => line.includes('not-yet-valid'))).toBe(true);
  });

  it("a VIP driver's key works like a driver's", async () => {
    const r = await rig();
    const vip = await issueTestKey(f, { role: HolderRole.VIP_DRIVER });
    expect(await use(r, vip.token, [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE])).toEqual([
      ResultCode.OK,
      ResultCode.OK,
    ]);
    expect(r.controller.runningBooking?.role).toBe(HolderRole.VIP_DRIVER);
  });

  it('a workshop test key opens and locks within its minutes, never drives', async () => {
    const r = await rig();
    const station = await issueTestKey(f, { role: HolderRole.WORKSHOP_TEST });
    const codes = await use(
      r,
      station.token,
      [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE, CommandKind.LOCK],
      f.station,
    );
    expect(codes).toEqual([ResultCode.OK, ResultCode.MISSING_PERMISSION, ResultCode.OK]);
    expect(r.vehicle.actuations).toEqual(['unlock', 'lock']);
    r.clock.advance(15 * MINUTE_MS);
    expect(await use(r, station.token, [], f.station)).toEqual([ResultCode.EXPIRED]);
  });

  it('END locks, engages the immobilizer, and is refused while the car is driven', async () => {
    const r = await rig();
    const driver = await issueTestKey(f, { role: HolderRole.DRIVER });
    const { phone } = r.connect();
    await phone.presentKey(driver.token);
    expect((await phone.command(CommandKind.ENABLE_DRIVE)).code).toBe(ResultCode.OK);
    r.vehicle.drive();
    expect((await phone.command(CommandKind.END)).code).toBe(ResultCode.CAR_BEING_DRIVEN);
    r.vehicle.park();
    await r.controller.settled();
    r.vehicle.unlockByKey();
    r.vehicle.openDoor('tailgate');
    expect((await phone.command(CommandKind.END)).code).toBe(ResultCode.DOORS_OPEN);
    r.vehicle.closeDoor('tailgate');
    const ended = await phone.command(CommandKind.END);
    expect(ended.code).toBe(ResultCode.OK);
    expect(ended.carState).toMatchObject({ locked: true, driveEnabled: false });
  });
});

describe('the overdue rule (booking end + 30 minutes)', () => {
  const bookingEndMs = TEST_NOW_MS + HOUR_MS;

  async function driverOnBooking(r: InProcessRig) {
    const driver = await issueTestKey(f, {
      role: HolderRole.DRIVER,
      bookingEndMs,
      bookingId: 'B-1',
    });
    await r.controller.bookingStarted(
      create(BookingStartedSchema, {
        bookingId: 'B-1',
        tokenId: driver.tokenId,
        role: HolderRole.DRIVER,
        bookingEndMs: BigInt(bookingEndMs),
      }),
    );
    return driver;
  }

  it('29 minutes past the end, parked: the key still works', async () => {
    const r = await rig();
    const driver = await driverOnBooking(r);
    r.clock.advance(bookingEndMs + 29 * MINUTE_MS - r.clock.now());
    await r.controller.settled();
    expect(await use(r, driver.token, [CommandKind.UNLOCK])).toEqual([ResultCode.OK]);
  });

  it('31 minutes past, parked: refused; the module locked the closed car and reported it', async () => {
    const r = await rig();
    const driver = await driverOnBooking(r);
    expect(await use(r, driver.token, [CommandKind.UNLOCK])).toEqual([ResultCode.OK]);
    r.clock.advance(bookingEndMs + 31 * MINUTE_MS - r.clock.now());
    await r.controller.settled();
    expect(r.vehicle.state.locked).toBe(true);
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'access-ended', bookingId: 'B-1', action: 'locked' }),
    );
    expect(r.events).toContainEqual({ type: 'parked-position-wanted', bookingId: 'B-1' });
    expect(r.controller.runningBooking).toBeUndefined();
    const before = r.vehicle.actuations.length;
    expect(await use(r, driver.token, [])).toEqual([ResultCode.ACCESS_ENDED]);
    expect(r.vehicle.actuations.length).toBe(before);
  });

  it('31 minutes past while driving: the drive goes on until parked, then refused', async () => {
    const r = await rig();
    const driver = await driverOnBooking(r);
    const { phone } = r.connect();
    await phone.presentKey(driver.token);
    expect((await phone.command(CommandKind.UNLOCK)).code).toBe(ResultCode.OK);
    expect((await phone.command(CommandKind.ENABLE_DRIVE)).code).toBe(ResultCode.OK);
    r.vehicle.drive();
    r.clock.advance(bookingEndMs + 31 * MINUTE_MS - r.clock.now());
    await r.controller.settled();
    // Never stopped: immobilizer still released, car not locked, and the key still works.
    expect(r.vehicle.state).toMatchObject({ ignition: 'on', immobilizerReleased: true });
    const fresh = { freshChallenge: true };
    expect((await phone.command(CommandKind.LOCK, fresh)).code).toBe(ResultCode.OK);
    expect((await phone.command(CommandKind.UNLOCK)).code).toBe(ResultCode.OK);
    r.vehicle.park();
    await r.controller.settled();
    expect(r.vehicle.state).toMatchObject({ locked: true, immobilizerReleased: false });
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'access-ended', action: 'locked' }),
    );
    expect((await phone.command(CommandKind.UNLOCK, fresh)).code).toBe(ResultCode.ACCESS_ENDED);
  });

  it('a door left open: not locked, reported as such', async () => {
    const r = await rig();
    const driver = await driverOnBooking(r);
    expect(await use(r, driver.token, [CommandKind.UNLOCK])).toEqual([ResultCode.OK]);
    r.vehicle.openDoor('front-left');
    r.clock.advance(bookingEndMs + 31 * MINUTE_MS - r.clock.now());
    await r.controller.settled();
    expect(r.vehicle.state.locked).toBe(false);
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'access-ended', action: 'not-locked-open' }),
    );
  });
});

describe('what the cloud tells the module', () => {
  it('booking started, then ended online while driven: access ends once parked', async () => {
    const r = await rig();
    const driver = await issueTestKey(f, { role: HolderRole.DRIVER, bookingId: 'B-2' });
    const started = await r.controller.bookingStarted(
      create(BookingStartedSchema, {
        bookingId: 'B-2',
        tokenId: driver.tokenId,
        role: HolderRole.DRIVER,
        bookingEndMs: BigInt(TEST_NOW_MS + HOUR_MS),
      }),
    );
    expect(started.status).toBe('ok');
    expect(r.controller.runningBooking?.source).toBe('cloud');
    expect(await use(r, driver.token, [CommandKind.UNLOCK, CommandKind.ENABLE_DRIVE])).toEqual([
      ResultCode.OK,
      ResultCode.OK,
    ]);
    r.vehicle.drive();
    await r.controller.settled();
    const ended = await r.controller.bookingEnded(
      create(BookingEndedSchema, { bookingId: 'B-2', tokenId: driver.tokenId }),
    );
    expect(ended).toEqual({ status: 'ok', message: 'Ends once the car is parked' });
    expect(r.controller.runningBooking).toBeDefined();
    r.vehicle.park();
    await r.controller.settled();
    expect(r.controller.runningBooking).toBeUndefined();
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'booking-ended-at-car', reason: 'ended-online' }),
    );
    expect(await use(r, driver.token, [])).toEqual([ResultCode.ACCESS_ENDED]);
  });

  it('a booking ended while the car was offline never starts from its key later', async () => {
    const r = await rig();
    const driver = await issueTestKey(f, { role: HolderRole.DRIVER, bookingId: 'B-3' });
    await r.controller.bookingEnded(
      create(BookingEndedSchema, { bookingId: 'B-3', tokenId: driver.tokenId }),
    );
    expect(await use(r, driver.token, [])).toEqual([ResultCode.ACCESS_ENDED]);
  });

  it('time sync raises the floor and sets the clock; an older one does nothing', async () => {
    const r = await rig();
    r.clock.timeKnown = false;
    expect(await r.controller.timeSync(TEST_NOW_MS + 5 * MINUTE_MS)).toMatchObject({
      status: 'ok',
    });
    expect(r.controller.trustedTimeFloorMs).toBe(TEST_NOW_MS + 5 * MINUTE_MS);
    expect(r.clock.sets).toEqual([TEST_NOW_MS + 5 * MINUTE_MS]);
    expect(await r.controller.timeSync(TEST_NOW_MS)).toMatchObject({ status: 'stale' });
    expect(r.controller.trustedTimeFloorMs).toBe(TEST_NOW_MS + 5 * MINUTE_MS);
  });

  it('a new-owner reset needs both physical keys; then old owner keys die', async () => {
    const r = await rig();
    const oldOwner = await issueTestKey(f, { role: HolderRole.OWNER });
    expect(await use(r, oldOwner.token, [CommandKind.UNLOCK])).toEqual([ResultCode.OK]);
    await r.controller.applyRevocationList(await issueTestRevocationList(f, 4, []));
    const reset = create(NewOwnerResetSchema, { ownerGeneration: f.ownerGeneration + 1 });
    r.vehicle.setKeysInCabin(1);
    expect(await r.controller.newOwnerReset(reset)).toEqual({
      confirmed: false,
      reason: 'Both physical keys must be in the car; it detects 1',
    });
    expect(r.controller.ownerGeneration).toBe(0);
    r.vehicle.setKeysInCabin(2);
    expect(await r.controller.newOwnerReset(reset)).toEqual({ confirmed: true });
    expect(r.controller.snapshot()).toMatchObject({
      ownerGeneration: 2,
      revocation: undefined,
      revocationSequenceFloor: '4',
      counters: [],
    });
    expect(await use(r, oldOwner.token, [])).toEqual([ResultCode.STALE_OWNER_GENERATION]);
    // The previous era's list cannot be replayed in after the reset.
    const replay = await r.controller.applyRevocationList(await issueTestRevocationList(f, 4, []));
    expect(replay).toMatchObject({ ok: false, reason: 'not-newer' });
    expect(await r.controller.newOwnerReset(reset)).toMatchObject({ confirmed: false });
  });
});

describe('state across power cuts', () => {
  it('counters, floor, revocation list, running booking and the current drive survive', async () => {
    const r = await rig();
    const driver = await issueTestKey(f, { role: HolderRole.DRIVER, bookingId: 'B-9' });
    const revokedElsewhere = await issueTestKey(f, { role: HolderRole.DRIVER });
    await r.controller.applyRevocationList(
      await issueTestRevocationList(f, 7, [
        { tokenId: revokedElsewhere.tokenId, notAfterMs: revokedElsewhere.notAfterMs },
      ]),
    );
    const { phone } = r.connect();
    await phone.presentKey(driver.token);
    expect((await phone.command(CommandKind.UNLOCK, { counter: 41n })).code).toBe(ResultCode.OK);
    expect((await phone.command(CommandKind.ENABLE_DRIVE, { counter: 42n })).code).toBe(
      ResultCode.OK,
    );
    r.vehicle.drive();
    await r.controller.settled();
    const before = r.controller.snapshot();

    await r.reopen({ powerCut: true });
    expect(r.controller.snapshot()).toEqual(before);
    expect(r.controller.revocationListSequence).toBe(7n);
    expect(r.controller.runningBooking?.bookingId).toBe('B-9');
    expect(before.currentDrive).toMatchObject({ tokenId: toHex(driver.tokenId), moving: true });
    const again = r.connect().phone;
    await again.presentKey(driver.token);
    expect((await again.command(CommandKind.LOCK, { counter: 42n })).code).toBe(
      ResultCode.REPLAYED_COUNTER,
    );
    expect(await use(r, revokedElsewhere.token, [])).toEqual([ResultCode.REVOKED]);
  });

  it('a drive that ended while the module was off is settled at start-up', async () => {
    const r = await rig();
    const owner = await issueTestKey(f, { role: HolderRole.OWNER });
    expect(await use(r, owner.token, [CommandKind.ENABLE_DRIVE])).toEqual([ResultCode.OK]);
    r.vehicle.drive();
    await r.controller.settled();
    await r.controller.close();
    r.vehicle.park(); // while the module is off: nobody hears it
    await r.reopen({ powerCut: true });
    expect(r.controller.snapshot().currentDrive).toBeUndefined();
    expect(r.vehicle.state.immobilizerReleased).toBe(false);
  });
});
