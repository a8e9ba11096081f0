/**
 * The cloud's intake on the embedded broker: what a module sends is taken only with a valid
 * signature by its registered identity key; presence (retained ONLINE, the will, stale wills)
 * and last contact; the location rule; retained state re-published when a module comes online.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes, seedSigner } from '@mini-sharing/shared-protocol/crypto';
import {
  CommandStatus,
  PresenceState,
  moduleTopic,
  verifyCloudEnvelope,
  type ModuleBodyInit,
} from '@mini-sharing/shared-protocol/link';
import { CommandKind, HolderRole } from '@mini-sharing/shared-protocol/trust';
import type { RetainedState, RetainedStateSource } from './module-link.js';
import { InMemoryModuleReports, type EventReport } from './reports.js';
import {
  FakeModule,
  presence,
  registerTestModule,
  waitFor,
  willOptions,
  type RegisteredTestModule,
} from './testing/fake-module.js';
import { startTestCloud, type TestCloud } from './testing/cloud.js';

let cloud: TestCloud;
let a: RegisteredTestModule;
const open: FakeModule[] = [];
const DAY = 24 * 60 * 60 * 1000;

const keyUsed = (n: number): ModuleBodyInit => ({
  case: 'event',
  value: {
    kind: {
      case: 'keyUsed',
      value: {
        tokenId: new Uint8Array(16).fill(n),
        bookingId: `booking-${n}`,
        role: HolderRole.DRIVER,
        command: CommandKind.UNLOCK,
        result: 1,
      },
    },
  },
});

async function start(state?: RetainedStateSource): Promise<void> {
  cloud = await startTestCloud(state ? { state } : {});
  a = await registerTestModule(cloud.directory);
}

async function connect(module: RegisteredTestModule, options = {}): Promise<FakeModule> {
  const connected = await FakeModule.connect(cloud.link.brokerUrl, module, options);
  open.push(connected);
  return connected;
}

afterEach(async () => {
  for (const module of open.splice(0)) await module.close().catch(() => undefined);
  await cloud.close();
});

describe('intake', () => {
  beforeEach(() => start());

  it('takes a report signed by the module’s registered key and drops forged, unsigned, misdirected and replayed ones without throwing', async () => {
    const module = await connect(a);
    const valid = await module.sign(keyUsed(1));
    await module.publish('events', valid);
    const stranger = seedSigner(randomBytes(32));
    const tampered = new Uint8Array(await module.sign(keyUsed(2)));
    tampered[tampered.length - 1]! ^= 0x01;
    const sends: Array<[string, 'events' | 'telemetry', Uint8Array]> = [
      ['malformed', 'events', new TextEncoder().encode('{"forged": true}')],
      ['unknown-signer', 'events', await module.sign(keyUsed(3), { signer: stranger })],
      ['bad-signature', 'events', tampered],
      ['wrong-module', 'events', await module.sign(keyUsed(4), { serial: 'MSM-T-OTHER' })],
      ['replayed', 'events', valid],
      ['wrong-topic', 'telemetry', await module.sign(keyUsed(5))],
      ['not-yet-valid', 'events', await module.sign(keyUsed(6), { timeMs: Date.now() + DAY })],
    ];
    for (const [, kind, payload] of sends) await module.publish(kind, payload);
    await module.publish('events', await module.sign(keyUsed(7)));

    await waitFor(() => cloud.reports.events.length === 2, 'the two valid events');
    expect(cloud.dropsFor(a.serial)).toEqual(sends.map(([reason]) => reason));
    const [first, last] = cloud.reports.events;
    expect(first?.event.kind.case === 'keyUsed' && first.event.kind.value.bookingId).toBe(
      'booking-1',
    );
    expect(last?.event.kind.case === 'keyUsed' && last.event.kind.value.bookingId).toBe(
      'booking-7',
    );
    const stats = cloud.link.stats();
    expect(stats.accepted).toBe(2);
    expect(stats.dropped['bad-signature']).toBe(1);
    expect(stats.received).toBe(sends.length + 2);
    // Drops are logged with their reason (warn = 40).
    expect(cloud.lines.some((line) => line.reason === 'bad-signature' && line.level === 40)).toBe(
      true,
    );
    expect(module.client.connected).toBe(true);
    // Every report counts as contact.
    const status = await cloud.link.moduleLinkStatus(a.serial);
    expect(status?.lastContactMs).toBeGreaterThan(Date.now() - 10_000);
    expect(status?.presence).toBeUndefined();
  });

  it('drops reports of a module no longer active, and command results reach the sink', async () => {
    const module = await connect(a);
    const command = await cloud.link.publishCommand(a.serial, {
      case: 'telemetryRequest',
      value: {},
    });
    await module.publish(
      'command-results',
      await module.sign({
        case: 'commandResult',
        value: { commandId: command.id, status: CommandStatus.OK, message: 'ok' },
      }),
    );
    const result = await waitFor(() => cloud.reports.commandResults[0], 'the result');
    expect(result.result.commandId).toEqual(command.id);
    cloud.directory.setAccess(a.serial, 'retired');
    await module.publish('events', await module.sign(keyUsed(1)));
    await waitFor(() => cloud.dropsFor(a.serial).includes('module-inactive'), 'the drop');
    await expect(
      cloud.link.publishCommand(a.serial, {
        case: 'bookingState',
        value: {},
      } as never),
    ).rejects.toThrow(/retained state/);
    await expect(
      cloud.link.publishCommand('not/a serial', { case: 'telemetryRequest', value: {} }),
    ).rejects.toThrow(/not a valid module serial/);
  });

  it('removes a position sent during a driver’s booking (location rule) and keeps it otherwise', async () => {
    const module = await connect(a);
    const telemetry = (): ModuleBodyInit => ({
      case: 'telemetry',
      value: {
        odometerKm: 1200,
        position: { latitudeE7: 481351253, longitudeE7: 115819806, accuracyM: 4 },
      },
    });
    cloud.directory.setRunningBooking(a.serial, { role: HolderRole.DRIVER });
    await module.publish('telemetry', await module.sign(telemetry()));
    await waitFor(() => cloud.reports.telemetryReports.length === 1, 'the first report');
    cloud.directory.setRunningBooking(a.serial, { role: HolderRole.OWNER });
    await module.publish('telemetry', await module.sign(telemetry()));
    await waitFor(() => cloud.reports.telemetryReports.length === 2, 'two telemetry reports');
    const [driver, owner] = cloud.reports.telemetryReports;
    expect(driver?.positionDropped).toBe(true);
    expect(driver?.telemetry.position).toBeUndefined();
    expect(driver?.telemetry.odometerKm).toBe(1200);
    expect(owner?.positionDropped).toBe(false);
    expect(owner?.telemetry.position?.latitudeE7).toBe(481351253);
  });
});

describe('presence and last contact', () => {
  beforeEach(() => start());

  it('retained ONLINE sets presence and last contact; the will marks the connection lost; a stale will is ignored', async () => {
    const firstConnection = randomBytes(16);
    const module = await connect(a, await willOptions(a, firstConnection));
    const before = Date.now();
    await module.publish(
      'presence',
      await module.sign(presence(PresenceState.ONLINE, firstConnection)),
      { retain: true },
    );
    const online = await waitFor(async () => {
      const status = await cloud.link.moduleLinkStatus(a.serial);
      return status?.presence === 'online' && status;
    }, 'online');
    expect(online.connectionId).toEqual(firstConnection);
    expect(online.firmwareVersion).toBe('1.4.0-test');
    expect(online.lastContactMs).toBeGreaterThanOrEqual(before);
    expect(online.presenceChangedAtMs).toBe(online.lastContactMs);

    // The connection dies without a DISCONNECT: the broker publishes the will.
    module.client.stream.destroy();
    const lost = await waitFor(async () => {
      const status = await cloud.link.moduleLinkStatus(a.serial);
      return status?.presence === 'connection-lost' && status;
    }, 'connection lost');
    expect(lost.connectionId).toEqual(firstConnection);
    expect(lost.lastContactMs).toBe(online.lastContactMs); // the will is not the module speaking
    expect(lost.presenceChangedAtMs).toBeGreaterThanOrEqual(online.presenceChangedAtMs!);

    // Back: a new connection. A will of the old one arriving late changes nothing.
    const secondConnection = randomBytes(16);
    const again = await connect(a, await willOptions(a, secondConnection));
    await again.publish(
      'presence',
      await again.sign(presence(PresenceState.ONLINE, secondConnection)),
      { retain: true },
    );
    await again.publish(
      'presence',
      await again.sign(presence(PresenceState.CONNECTION_LOST, firstConnection)),
      { retain: true },
    );
    await waitFor(() => cloud.dropsFor(a.serial).includes('stale-will'), 'the stale will');
    const status = await cloud.link.moduleLinkStatus(a.serial);
    expect(status?.presence).toBe('online');
    expect(status?.connectionId).toEqual(secondConnection);

    // Going to sleep on purpose: OFFLINE, then a clean disconnect (no will).
    await again.publish(
      'presence',
      await again.sign(presence(PresenceState.OFFLINE, secondConnection)),
      { retain: true },
    );
    await again.client.endAsync();
    const offline = await waitFor(async () => {
      const s = await cloud.link.moduleLinkStatus(a.serial);
      return s?.presence === 'offline' && s;
    }, 'offline');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await cloud.link.moduleLinkStatus(a.serial))?.presence).toBe('offline');
    expect(offline.lastContactMs).toBeGreaterThanOrEqual(online.lastContactMs!);
    expect(cloud.reports.statusHistory.map((s) => s.presence)).toEqual([
      'online',
      'connection-lost',
      'online',
      'offline',
    ]);
  });
});

describe('retained state', () => {
  it('is re-signed and re-published when a module comes online', async () => {
    const calls: string[] = [];
    const source: RetainedStateSource = {
      retainedState: async (serial): Promise<RetainedState[]> => {
        calls.push(serial);
        return [
          { body: { case: 'bookingState', value: {} }, expiresAtMs: Date.now() + DAY },
          {
            body: { case: 'revocationList', value: { revocationList: new Uint8Array([1]) } },
            expiresAtMs: Date.now() + 7 * DAY,
          },
        ];
      },
    };
    await start(source);
    const module = await connect(a);
    await module.client.subscribeAsync(`mini/v1/modules/${a.serial}/state/#`, { qos: 1 });
    await module.publish(
      'presence',
      await module.sign(presence(PresenceState.ONLINE, randomBytes(16))),
      { retain: true },
    );
    await waitFor(() => module.received.length === 2, 'the two state messages');
    expect(calls).toEqual([a.serial]);
    expect(module.received.map((m) => m.topic).sort()).toEqual(
      [moduleTopic(a.serial, 'booking'), moduleTopic(a.serial, 'revocation-list')].sort(),
    );
    const ring = await cloud.keys.keyRing();
    for (const message of module.received) {
      const verdict = await verifyCloudEnvelope(message.payload, {
        moduleSerial: a.serial,
        cloudKeys: ring.lookup,
        nowMs: Date.now(),
      });
      expect(verdict.ok).toBe(true);
    }
  });
});

describe('a failing sink', () => {
  it('is counted and logged, and the link goes on', async () => {
    class FlakyReports extends InMemoryModuleReports {
      failures = 1;
      override async event(report: EventReport): Promise<void> {
        if (this.failures-- > 0) throw new Error('database is locked');
        return super.event(report);
      }
    }
    cloud = await startTestCloud({ reports: new FlakyReports() });
    a = await registerTestModule(cloud.directory);
    const module = await connect(a);
    await module.publish('events', await module.sign(keyUsed(1)));
    await module.publish('events', await module.sign(keyUsed(2)));
    await waitFor(() => cloud.reports.events.length === 1, 'the second event');
    expect(cloud.dropsFor(a.serial)).toEqual(['sink-failed']);
    expect(cloud.lines.some((l) => l.reason === 'sink-failed' && l.level === 50)).toBe(true);
  });
});
