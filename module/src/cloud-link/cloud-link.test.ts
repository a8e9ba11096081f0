/**
 * The module's cloud link against an in-process aedes broker (with the module link's ACL) and a
 * test cloud: connection and presence, coverage loss, the offline queue, the location rule.
 * Time is moved with the test clock, never waited for.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResultCode } from '@mini-sharing/shared-protocol/gatt';
import {
  CommandStatus,
  PresenceState,
  moduleTopic,
  type CommandResult,
} from '@mini-sharing/shared-protocol/link';
import { CommandKind, HolderRole, issueRevocationList } from '@mini-sharing/shared-protocol/trust';
import type { AccessEvent } from './command-target.js';
import { CoverageProxy, freePort, startTestBroker, type TestBroker } from './testing/broker.js';
import { TestCloud, waitFor } from './testing/cloud.js';
import { ModuleRig } from './testing/rig.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const token = (n: number) => new Uint8Array(16).fill(n);
const keyUsed = (n: number): AccessEvent => ({
  case: 'keyUsed',
  value: {
    tokenId: token(n),
    bookingId: `booking-${n}`,
    role: HolderRole.DRIVER,
    command: n % 2 ? CommandKind.UNLOCK : CommandKind.LOCK,
    result: ResultCode.OK,
  },
});
const ok = (result: CommandResult) => expect(CommandStatus[result.status]).toBe('OK');

let broker: TestBroker;
let proxy: CoverageProxy;
let rig: ModuleRig;

beforeEach(async () => {
  broker = await startTestBroker();
  proxy = await CoverageProxy.start(broker.port);
  // The module reaches the broker through the proxy (its coverage); the cloud directly.
  rig = await ModuleRig.open({ brokerUrl: proxy.url, cloudUrl: broker.url });
});

afterEach(async () => {
  await rig.close();
  await proxy.close();
  await broker.close();
});

/** The cloud's retained state as it would be for a module with nothing going on. */
async function publishInitialState(sequence = 1) {
  const { cloud, fx, serial, clock } = rig;
  const list = await issueRevocationList(fx.cloud, {
    moduleSerial: serial,
    sequence,
    issuedAtMs: clock.now(),
    revoked: [],
  });
  const listState = await cloud.send(
    { case: 'revocationList', value: { revocationList: list } },
    { expiresAtMs: clock.now() + 7 * DAY },
  );
  const booking = await cloud.send(
    { case: 'bookingState', value: {} },
    { expiresAtMs: clock.now() + 7 * DAY },
  );
  return { listState, booking };
}

describe('connection', () => {
  it('connects with its settings: retained ONLINE presence, its own topics only, the will when coverage drops, OFFLINE on close', async () => {
    const link = await rig.start();
    await rig.online();
    const online = await waitFor(
      () => rig.cloud.presence().find((p) => p.state === PresenceState.ONLINE),
      'ONLINE presence',
    );
    expect(online.firmwareVersion).toBe('1.4.0-test');
    expect(online.connectionId).toHaveLength(16);

    // Subscribed to exactly its three cloud → module topics; the broker refused nothing.
    expect([...(broker.subscriptionsBy.get(rig.serial) ?? [])].sort()).toEqual(
      [
        moduleTopic(rig.serial, 'booking'),
        moduleTopic(rig.serial, 'commands'),
        moduleTopic(rig.serial, 'revocation-list'),
      ].sort(),
    );
    expect(broker.refused).toEqual([]);

    // Presence is retained: a cloud connecting later gets it at once.
    const late = await TestCloud.connect({
      url: broker.url,
      serial: rig.serial,
      fx: rig.fx,
      modulePublicKey: () => rig.identity.identityPublicKey,
      now: () => rig.clock.now(),
      journal: [],
    });
    const retained = await waitFor(
      () => late.reports.find((r) => r.kind === 'presence'),
      'retained',
    );
    expect(retained.retained).toBe(true);
    await late.close();

    // Coverage lost: the broker publishes the will, naming this connection.
    proxy.cut();
    const lost = await waitFor(
      () => rig.cloud.presence().find((p) => p.state === PresenceState.CONNECTION_LOST),
      'the last will',
    );
    expect(lost.connectionId).toEqual(online.connectionId);
    await rig.offline();

    // Back in coverage: a new connection, a new ONLINE.
    proxy.restore();
    const again = await waitFor(
      () => rig.cloud.presence().filter((p) => p.state === PresenceState.ONLINE)[1],
      'second ONLINE',
    );
    expect(again.connectionId).not.toEqual(online.connectionId);
    await rig.online();

    // Going to sleep on purpose: OFFLINE, not the will.
    await rig.stop();
    const offline = await waitFor(
      () => rig.cloud.presence().find((p) => p.state === PresenceState.OFFLINE),
      'OFFLINE presence',
    );
    expect(offline.connectionId).toEqual(again.connectionId);
    expect(link.status.state).toBe('closed');
    // a clean DISCONNECT: the broker publishes no will after it, so OFFLINE stays the last word
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rig.cloud.presence().at(-1)?.state).toBe(PresenceState.OFFLINE);
  });

  it('keeps retrying while the broker is unreachable, then connects', async () => {
    const port = await freePort();
    const away = await ModuleRig.open({
      brokerUrl: `mqtt://127.0.0.1:${port}`,
      cloudUrl: broker.url,
    });
    try {
      const link = await away.start({ reconnectMinMs: 20, reconnectMaxMs: 80 });
      await waitFor(() => link.status.failedAttempts >= 4, 'four failed attempts');
      expect(link.status.state).toBe('offline');
      expect(link.status.lastError).toMatch(/ECONNREFUSED/);
      const late = await CoverageProxy.start(broker.port, port);
      try {
        await away.online();
        expect(link.status.failedAttempts).toBe(0);
      } finally {
        await away.stop();
        await late.close();
      }
    } finally {
      await away.close();
    }
  });

  it('is refused with wrong credentials and says so', async () => {
    const wrong = await ModuleRig.open({ brokerUrl: broker.url, password: 'not-the-password' });
    try {
      const link = await wrong.start();
      await waitFor(() => link.status.failedAttempts >= 2, 'two refusals');
      expect(link.status.state).toBe('offline');
      expect(link.status.lastError).toMatch(/bad username or password|not authorized/i);
    } finally {
      await wrong.close();
    }
  });

  it('refuses to start on an unprovisioned module', async () => {
    await rig.identity.reset();
    await expect(rig.start()).rejects.toThrow(/not provisioned/);
  });
});

describe('coverage lost for an hour', () => {
  it('delivers the events in order afterwards, and a revocation made meanwhile takes effect on reconnect through the retained list, even after the command itself expired', async () => {
    const { cloud, access, clock, fx, serial } = rig;
    const initial = await publishInitialState(1);
    const link = await rig.start();
    await rig.online();
    ok(await cloud.resultFor(initial.listState.id));
    ok(await cloud.resultFor(initial.booking.id));
    expect(access.revocationList?.sequence).toBe(1n);
    await waitFor(() => link.status.queuedReports === 0, 'the results acknowledged');

    proxy.cut();
    await rig.offline();
    const lostAt = clock.now();

    // The car is used while offline: five keys, ten minutes apart.
    for (let n = 1; n <= 5; n++) {
      clock.jump(10 * MINUTE);
      access.emit(keyUsed(n));
    }
    await waitFor(() => link.status.queuedReports === 5, 'five queued reports');

    // Meanwhile the owner revokes key 3: a new retained list (lives a week) and a booking-end
    // command (lives five minutes) that the module, offline, cannot get in time.
    const list = await issueRevocationList(fx.cloud, {
      moduleSerial: serial,
      sequence: 2,
      issuedAtMs: clock.now(),
      revoked: [{ tokenId: token(3), notAfterMs: clock.now() + DAY }],
    });
    const listState = await cloud.send(
      { case: 'revocationList', value: { revocationList: list } },
      { expiresAtMs: clock.now() + 7 * DAY },
    );
    const endCommand = await cloud.send({
      case: 'bookingEnded',
      value: { bookingId: 'booking-3', tokenId: token(3), endedAtMs: BigInt(clock.now()) },
    });
    clock.jump(10 * MINUTE);
    expect(clock.now() - lostAt).toBe(HOUR);
    expect(access.revocationList?.sequence).toBe(1n);

    proxy.restore();
    await rig.online();
    ok(await cloud.resultFor(listState.id));
    expect(access.revocationList?.sequence).toBe(2n);
    expect(access.revocationList?.revoked.map((entry) => entry.tokenId)).toEqual([token(3)]);

    // All five events, in the order they happened, each with the time it happened.
    const events = await waitFor(() => {
      const got = cloud.events();
      return got.length === 5 && got;
    }, 'five events');
    expect(events.map((e) => (e.case === 'keyUsed' ? e.value.bookingId : e.case))).toEqual([
      'booking-1',
      'booking-2',
      'booking-3',
      'booking-4',
      'booking-5',
    ]);
    const times = cloud.unique('events').map((e) => Number(e.timeMs));
    expect(times).toEqual([1, 2, 3, 4, 5].map((n) => lostAt + n * 10 * MINUTE));
    await waitFor(() => link.status.queuedReports === 0, 'the queue emptied');

    // The retained state was applied before any queued report went out.
    const applied = rig.journal.indexOf('module: revocation list 2 applied');
    const firstEvent = rig.journal.indexOf('cloud: got event keyUsed');
    expect(applied).toBeGreaterThanOrEqual(0);
    expect(applied).toBeLessThan(firstEvent);

    // The expired command, should a broker still deliver it, never runs.
    await cloud.publishRaw('commands', endCommand.bytes);
    expect(CommandStatus[(await cloud.resultFor(endCommand.id)).status]).toBe('EXPIRED');
    expect(access.count('bookingEnded')).toBe(0);
  });
});

describe('offline queue', () => {
  it('survives a power cycle and goes out in order', async () => {
    const { access, cloud } = rig;
    await rig.start({ stateSettleMs: 50 });
    await rig.online();
    proxy.cut();
    await rig.offline();
    for (let n = 1; n <= 3; n++) access.emit(keyUsed(n));
    rig.faults.store({ code: 'B1C00', occurrences: 2 });
    await waitFor(() => rig.link?.status.queuedReports === 4, 'four queued reports');

    await rig.powerCycle({ stateSettleMs: 50 });
    expect(rig.link?.status.queuedReports).toBe(4);
    proxy.restore();
    const events = await waitFor(() => {
      const got = cloud.events();
      return got.length === 4 && got;
    }, 'four events');
    expect(events.map((e) => e.case)).toEqual(['keyUsed', 'keyUsed', 'keyUsed', 'faultCodeStored']);
    const fault = events[3];
    expect(fault?.case === 'faultCodeStored' && fault.value).toMatchObject({
      code: 'B1C00',
      active: true,
      occurrences: 2,
    });
  });

  it('when full, drops the oldest reports and tells the cloud how many, before the rest', async () => {
    const { access, cloud, clock } = rig;
    const link = await rig.start({ outboxCapacity: 3, stateSettleMs: 50 });
    await rig.online();
    proxy.cut();
    await rig.offline();
    const firstAt = clock.now();
    for (let n = 1; n <= 5; n++) {
      access.emit(keyUsed(n));
      clock.jump(MINUTE);
    }
    await waitFor(
      () => link.status.droppedReports === 2 && link.status.queuedReports === 3,
      'two dropped, three queued',
    );

    proxy.restore();
    const events = await waitFor(() => {
      const got = cloud.events();
      return got.length === 4 && got;
    }, 'loss report and three events');
    const [loss, ...rest] = events;
    expect(loss?.case).toBe('reportsDropped');
    expect(loss?.case === 'reportsDropped' && loss.value).toMatchObject({
      count: 2,
      firstDroppedMs: BigInt(firstAt),
      lastDroppedMs: BigInt(firstAt + MINUTE),
    });
    expect(rest.map((e) => (e.case === 'keyUsed' ? e.value.bookingId : e.case))).toEqual([
      'booking-3',
      'booking-4',
      'booking-5',
    ]);
    await waitFor(() => link.status.droppedReports === 0, 'loss reported');
  });
});

describe('location rule', () => {
  it("sends no position from the moment a driver's booking starts until it ends, then the parking position", async () => {
    const { access, car, clock, cloud } = rig;
    await publishInitialState();
    await rig.start();
    await rig.online();
    // No booking: telemetry carries the position.
    await waitFor(() => cloud.telemetry().find((t) => t.telemetry.position), 'a position');

    const start = await cloud.send({
      case: 'bookingStarted',
      value: {
        bookingId: 'booking-7',
        tokenId: token(7),
        role: HolderRole.DRIVER,
        bookingEndMs: BigInt(clock.now() + 2 * HOUR),
      },
    });
    ok(await cloud.resultFor(start.id));
    expect(access.runningBooking?.bookingId).toBe('booking-7');
    const from = cloud.telemetry().length;
    const gnssReads = car.gnssReads;

    // During the booking: requests, changes at the car, the periodic report.
    ok(await cloud.resultFor((await cloud.send({ case: 'telemetryRequest', value: {} })).id));
    car.setLocked(false);
    await waitFor(() => cloud.telemetry().length >= from + 2, 'two reports');
    car.millivolts = 13_900;
    clock.jump(16 * MINUTE);
    await waitFor(() => cloud.telemetry().length >= from + 3, 'the periodic report');

    const until = cloud.telemetry().length;
    // Not even read while banned.
    expect(car.gnssReads).toBe(gnssReads);
    const end = await cloud.send({
      case: 'bookingEnded',
      value: { bookingId: 'booking-7', tokenId: token(7), endedAtMs: BigInt(clock.now()) },
    });
    ok(await cloud.resultFor(end.id));

    const during = cloud.telemetry().slice(from, until);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.map((t) => t.telemetry.position)).toEqual(during.map(() => undefined));
    expect(
      during.some((t) => t.telemetry.lockState === 2 && t.telemetry.batteryMillivolts === 13_900),
    ).toBe(true);

    // The booking ended: the parking position goes out.
    const parked = await waitFor(
      () =>
        cloud
          .telemetry()
          .slice(until)
          .find((t) => t.telemetry.position),
      'the parking position',
    );
    expect(parked.telemetry.position).toMatchObject({
      latitudeE7: 481351253,
      longitudeE7: 115819806,
      accuracyM: 4,
    });
  });

  it("holds positions back for a VIP driver's booking from the retained booking state, not for the owner's", async () => {
    const { car, clock, cloud } = rig;
    const booking = await cloud.send(
      {
        case: 'bookingState',
        value: {
          running: {
            bookingId: 'booking-vip',
            tokenId: token(9),
            role: HolderRole.VIP_DRIVER,
            startedAtMs: BigInt(clock.now()),
            bookingEndMs: BigInt(clock.now() + HOUR),
          },
        },
      },
      { expiresAtMs: clock.now() + 2 * HOUR },
    );
    await rig.start();
    await rig.online();
    ok(await cloud.resultFor(booking.id));
    ok(await cloud.resultFor((await cloud.send({ case: 'telemetryRequest', value: {} })).id));
    await waitFor(() => cloud.telemetry().length >= 2, 'telemetry');
    expect(cloud.telemetry().map((t) => t.telemetry.position)).toEqual([undefined, undefined]);
    expect(car.gnssReads).toBe(0);

    clock.jump(MINUTE);
    const owner = await cloud.send(
      {
        case: 'bookingState',
        value: {
          running: {
            bookingId: 'booking-owner',
            tokenId: token(1),
            role: HolderRole.OWNER,
            startedAtMs: BigInt(clock.now()),
            bookingEndMs: BigInt(clock.now() + HOUR),
          },
        },
      },
      { expiresAtMs: clock.now() + 2 * HOUR },
    );
    ok(await cloud.resultFor(owner.id));
    expect(rig.access.calls.map((c) => c.method)).toEqual([
      'bookingStarted',
      'bookingEnded',
      'bookingStarted',
    ]);
    ok(await cloud.resultFor((await cloud.send({ case: 'telemetryRequest', value: {} })).id));
    await waitFor(() => cloud.telemetry().find((t) => t.telemetry.position), 'a position');
  });
});
