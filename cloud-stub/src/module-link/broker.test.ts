/**
 * The embedded broker's login and access rule (PROTOCOL.md 16.3): each module logs in with the
 * credentials provisioning gave it and uses only its own topics; the cloud's client uses all.
 */
import { connectAsync } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from '@mini-sharing/shared-protocol/crypto';
import {
  PresenceState,
  moduleTopic,
  verifyCloudEnvelope,
} from '@mini-sharing/shared-protocol/link';
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
let b: RegisteredTestModule;
const open: FakeModule[] = [];

beforeEach(async () => {
  cloud = await startTestCloud();
  a = await registerTestModule(cloud.directory);
  b = await registerTestModule(cloud.directory);
});

afterEach(async () => {
  for (const module of open.splice(0)) await module.close().catch(() => undefined);
  await cloud.close();
});

async function connect(module: RegisteredTestModule, options = {}): Promise<FakeModule> {
  const connected = await FakeModule.connect(cloud.link.brokerUrl, module, options);
  open.push(connected);
  return connected;
}

/** Resolves when the broker closes the client's connection. */
const closed = (module: FakeModule) =>
  new Promise<void>((resolve) => {
    if (!module.client.connected) resolve();
    module.client.once('close', () => resolve());
  });

describe('embedded broker: login', () => {
  it('listens on its own port, not Mosquitto’s', () => {
    expect(cloud.link.brokerPort).toBeGreaterThan(0);
    expect(cloud.link.brokerPort).not.toBe(1883);
    expect(cloud.link.brokerUrl).toBe(`mqtt://127.0.0.1:${cloud.link.brokerPort}`);
  });

  it('refuses wrong credentials, unknown modules, a suspended module and client ids that are not serials', async () => {
    const attempts: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['wrong password', () => connect(a, { password: b.credentials.password }), /Bad username/],
      ['no password', () => connect(a, { password: undefined }), /Bad username or password/],
      ['another username', () => connect(a, { username: b.serial }), /Bad username or password/],
      [
        'unknown module',
        () => connect({ ...a, serial: 'MSM-T-UNKNOWN' }, { username: 'MSM-T-UNKNOWN' }),
        /Bad username or password/,
      ],
      ['not a serial', () => connect(a, { clientId: 'mini-cloud:00' }), /Identifier rejected/],
      ['wildcard id', () => connect(a, { clientId: 'x/#' }), /Identifier rejected/],
    ];
    for (const [what, attempt, error] of attempts) {
      await expect(attempt(), what).rejects.toThrow(error);
    }
    cloud.directory.setAccess(b.serial, 'suspended');
    await expect(connect(b)).rejects.toThrow(/Not authorized/);
    expect(cloud.link.embeddedBroker?.refusals.connect).toBe(attempts.length + 1);
    // The right credentials work.
    const module = await connect(a);
    expect(module.client.connected).toBe(true);
  });
});

describe('embedded broker: access rule', () => {
  it('grants a module its own cloud → module topics and refuses every other subscription', async () => {
    const module = await connect(a);
    const own = [
      moduleTopic(a.serial, 'commands'),
      moduleTopic(a.serial, 'revocation-list'),
      `mini/v1/modules/${a.serial}/state/#`,
    ];
    const others = [
      moduleTopic(b.serial, 'commands'),
      `mini/v1/modules/${b.serial}/state/#`,
      'mini/v1/modules/+/commands',
      `mini/v1/modules/${a.serial}/#`,
      moduleTopic(a.serial, 'events'),
      '#',
      '$SYS/#',
    ];
    // MQTT 3.1.1 refuses a subscription with return code 128 in the SUBACK.
    const grant = (filter: string) =>
      new Promise<number | undefined>((resolve) =>
        module.client.subscribe(filter, { qos: 1 }, (error, granted) =>
          resolve(error ? 128 : granted?.[0]?.qos),
        ),
      );
    const granted: Array<[string, number | undefined]> = [];
    for (const filter of [...own, ...others]) granted.push([filter, await grant(filter)]);
    expect(granted).toEqual([
      ...own.map((topic) => [topic, 1]),
      ...others.map((topic) => [topic, 128]),
    ]);
    expect(cloud.link.embeddedBroker?.refusals.subscribe).toBe(others.length);

    // Commands for A reach A; those for B do not.
    await cloud.link.publishCommand(b.serial, { case: 'telemetryRequest', value: {} });
    const command = await cloud.link.publishCommand(a.serial, {
      case: 'telemetryRequest',
      value: {},
    });
    const received = await waitFor(() => module.received[0], 'the command');
    expect(received.topic).toBe(moduleTopic(a.serial, 'commands'));
    const verdict = await verifyCloudEnvelope(received.payload, {
      moduleSerial: a.serial,
      cloudKeys: (await cloud.keys.keyRing()).lookup,
      nowMs: Date.now(),
    });
    expect(verdict.ok && verdict.value.envelope.id).toEqual(command.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(module.received).toHaveLength(1);
  });

  it('takes a module’s publishes on its own module → cloud topics only; anything else closes its connection unforwarded', async () => {
    const module = await connect(a);
    await module.publish(
      'presence',
      await module.sign(presence(PresenceState.ONLINE, randomBytes(16))),
      { retain: true },
    );
    await waitFor(
      async () => (await cloud.link.moduleLinkStatus(a.serial))?.presence === 'online',
      'A online',
    );

    // Another module's topic, signed by A: the broker closes A's connection and forwards nothing.
    const event = await module.sign({
      case: 'event',
      value: { kind: { case: 'faultCodeStored', value: { code: 'B1C42', active: true } } },
    });
    const gone = closed(module);
    module.client.publish(moduleTopic(b.serial, 'events'), Buffer.from(event), { qos: 1 });
    await gone;

    // Its own commands topic (cloud → module) is not its to publish either.
    const again = await connect(a);
    const goneAgain = closed(again);
    again.client.publish(moduleTopic(a.serial, 'commands'), Buffer.from(event), { qos: 1 });
    await goneAgain;

    // A last will on another module's presence topic is refused when the broker would send it.
    const third = await connect(a, await willOptions(a, randomBytes(16), b.serial));
    third.client.stream.destroy();
    await waitFor(() => cloud.link.embeddedBroker!.refusals.publish >= 3, 'the will refused');

    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(cloud.link.embeddedBroker?.refusals.publish).toBe(3);
    expect(cloud.reports.events).toEqual([]);
    expect(await cloud.link.moduleLinkStatus(b.serial)).toBeUndefined();
    expect(cloud.dropsFor(b.serial)).toEqual([]);
  });

  it('keeps retained state for a module that connects later, until the cloud clears it', async () => {
    const state = await cloud.link.publishRetainedState(a.serial, {
      case: 'bookingState',
      value: {},
    });
    const module = await connect(a);
    await module.client.subscribeAsync(`mini/v1/modules/${a.serial}/state/#`, { qos: 1 });
    const received = await waitFor(() => module.received[0], 'the retained booking state');
    expect(received.retain).toBe(true);
    expect(received.topic).toBe(moduleTopic(a.serial, 'booking'));
    expect(state.expiresAtMs - state.issuedAtMs).toBe(7 * 24 * 60 * 60 * 1000);

    await cloud.link.clearRetainedState(a.serial, 'booking');
    const later = await connect(a, { clientId: a.serial });
    await later.client.subscribeAsync(`mini/v1/modules/${a.serial}/state/#`, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(later.received).toEqual([]);
  });

  it('lets only the cloud’s own client (its secret made at start) act as the cloud', async () => {
    await expect(
      connectAsync(
        cloud.link.brokerUrl,
        {
          clientId: 'mini-cloud',
          username: 'mini-cloud',
          password: 'guess',
          reconnectPeriod: 0,
          protocolVersion: 4,
        },
        false,
      ),
    ).rejects.toThrow(/Identifier rejected|Bad username or password/);
    expect(cloud.link.connected).toBe(true);
  });
});
