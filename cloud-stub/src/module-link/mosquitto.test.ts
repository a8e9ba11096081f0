/**
 * The module link on an external broker that checks nothing: the machine's Mosquitto on
 * 127.0.0.1:1883 (anonymous allowed; .ci/run starts it). Anyone can publish on any module's
 * topics there, so the cloud's own checks are all that stand: a message is taken only with a
 * valid signature by the registered identity key of the topic's module. Unique serials and
 * client ids per run; retained topics are cleared afterwards (Mosquitto persists them). When
 * Mosquitto is not there this test fails, saying so: it is not skipped.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, seedSigner, toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  MAX_ENVELOPE_SIZE,
  PresenceState,
  moduleTopic,
  type ModuleBodyInit,
} from '@mini-sharing/shared-protocol/link';
import type { ExternalBrokerConfig } from './config.js';
import { InMemoryModuleDirectory } from './directory.js';
import { InMemoryModuleReports } from './reports.js';
import { startTestCloud, type TestCloud } from './testing/cloud.js';
import {
  FakeModule,
  presence,
  registerTestModule,
  waitFor,
  willOptions,
  type RegisteredTestModule,
} from './testing/fake-module.js';
import { MOSQUITTO_URL, requireMosquitto } from './testing/mosquitto.js';

const event = (code: string): ModuleBodyInit => ({
  case: 'event',
  value: { kind: { case: 'faultCodeStored', value: { code, active: true, occurrences: 1 } } },
});

const external = (clientId: string, persistentSession = false): ExternalBrokerConfig => ({
  mode: 'external',
  url: MOSQUITTO_URL,
  clientId,
  persistentSession,
});

const anonymous = { username: undefined, password: undefined };

let attacker: MqttClient;
const directory = new InMemoryModuleDirectory();
const cleanup: Array<() => Promise<unknown>> = [];
let a: RegisteredTestModule;
let b: RegisteredTestModule;

beforeAll(async () => {
  await requireMosquitto();
  a = await registerTestModule(directory);
  b = await registerTestModule(directory);
  attacker = await connectAsync(MOSQUITTO_URL, {
    clientId: `attacker-${toHex(randomBytes(6))}`,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

afterAll(async () => {
  if (!attacker) return;
  for (const module of [a, b]) {
    for (const kind of ['presence', 'booking', 'revocation-list'] as const) {
      await attacker.publishAsync(moduleTopic(module.serial, kind), Buffer.alloc(0), {
        qos: 1,
        retain: true,
      });
    }
  }
  await attacker.endAsync();
});

async function cloudOn(config: ExternalBrokerConfig, reports = new InMemoryModuleReports()) {
  const cloud = await startTestCloud({ config: { broker: config }, directory, reports });
  cleanup.push(() => cloud.close());
  return cloud;
}

async function moduleOn(module: RegisteredTestModule, options = {}): Promise<FakeModule> {
  const connected = await FakeModule.connect(MOSQUITTO_URL, module, { ...anonymous, ...options });
  cleanup.push(() => connected.close());
  return connected;
}

describe('module link with Mosquitto (an open broker)', () => {
  it('drops forged and unsigned messages that an open broker lets anyone publish, and takes the module’s own', async () => {
    const cloud: TestCloud = await cloudOn(external(`mini-cloud-test-${toHex(randomBytes(6))}`));
    expect(cloud.link.brokerPort).toBeUndefined();
    expect(cloud.link.moduleBrokerUrl).toBe(MOSQUITTO_URL);
    const module = await moduleOn(a);
    const genuine = await module.sign(event('B1C42'));
    const tampered = new Uint8Array(await module.sign(event('B1C43')));
    tampered[tampered.length - 5]! ^= 0x40;
    const forgeries: Array<[string, string, Uint8Array]> = [
      ['malformed', moduleTopic(a.serial, 'events'), new TextEncoder().encode('unlock all cars')],
      [
        'unknown-signer',
        moduleTopic(a.serial, 'events'),
        await module.sign(event('B1C00'), { signer: seedSigner(randomBytes(32)) }),
      ],
      ['bad-signature', moduleTopic(a.serial, 'events'), tampered],
      // A's genuine report replayed onto B's topic: B's key did not sign it.
      ['unknown-signer', moduleTopic(b.serial, 'events'), genuine],
      ['too-large', moduleTopic(a.serial, 'events'), new Uint8Array(MAX_ENVELOPE_SIZE + 1)],
      ['unknown-module', moduleTopic('MSM-T-NOBODY', 'events'), genuine],
    ];
    await module.publish('events', genuine);
    await waitFor(() => cloud.reports.events.length === 1, 'the genuine event');
    for (const [, topic, payload] of forgeries) {
      await attacker.publishAsync(topic, Buffer.from(payload), { qos: 1 });
    }
    // The genuine one again, from the attacker: a replay.
    await attacker.publishAsync(moduleTopic(a.serial, 'events'), Buffer.from(genuine), { qos: 1 });
    await module.publish('events', await module.sign(event('B1C44')));
    await waitFor(() => cloud.reports.events.length === 2, 'the second genuine event');

    expect(cloud.dropsFor(a.serial)).toEqual([
      'malformed',
      'unknown-signer',
      'bad-signature',
      'too-large',
      'replayed',
    ]);
    expect(cloud.dropsFor(b.serial)).toEqual(['unknown-signer']);
    expect(cloud.dropsFor('MSM-T-NOBODY')).toEqual(['unknown-module']);
    expect(
      cloud.reports.events.map((r) =>
        r.event.kind.case === 'faultCodeStored' ? r.event.kind.value.code : '?',
      ),
    ).toEqual(['B1C42', 'B1C44']);
    expect(cloud.reports.events.every((r) => r.serial === a.serial)).toBe(true);
  });

  it('stores presence from the retained ONLINE and the will, and gets it again unchanged after a restart', async () => {
    const reports = new InMemoryModuleReports();
    const first = await cloudOn(external(`mini-cloud-test-${toHex(randomBytes(6))}`), reports);
    const connectionId = randomBytes(16);
    const module = await moduleOn(b, await willOptions(b, connectionId));
    await module.publish(
      'presence',
      await module.sign(presence(PresenceState.ONLINE, connectionId)),
      { retain: true },
    );
    const online = await waitFor(async () => {
      const status = await first.link.moduleLinkStatus(b.serial);
      return status?.presence === 'online' && status;
    }, 'online');
    module.client.stream.destroy();
    const lost = await waitFor(async () => {
      const status = await first.link.moduleLinkStatus(b.serial);
      return status?.presence === 'connection-lost' && status;
    }, 'the will');
    expect(lost.lastContactMs).toBe(online.lastContactMs);
    await first.close();

    // A restarted cloud gets the retained presence again: nothing changes, no contact is made up.
    const second = await cloudOn(external(`mini-cloud-test-${toHex(randomBytes(6))}`), reports);
    await waitFor(() => reports.statusHistory.length >= 3, 'the retained presence');
    const again = await second.link.moduleLinkStatus(b.serial);
    expect(again).toEqual(lost);
    expect(second.dropsFor(b.serial)).toEqual([]);
  });

  it('with a persistent session, reports sent while the cloud was away arrive when it is back', async () => {
    const clientId = `mini-cloud-test-${toHex(randomBytes(6))}`;
    cleanup.push(async () => {
      // Ends the persistent session Mosquitto keeps for this client id.
      const client = await connectAsync(MOSQUITTO_URL, {
        clientId,
        clean: true,
        reconnectPeriod: 0,
      });
      await client.endAsync();
    });
    const first = await cloudOn(external(clientId, true));
    await first.close();
    const module = await moduleOn(a);
    await module.publish('events', await module.sign(event('B1C50')));
    const second = await cloudOn(external(clientId, true));
    const report = await waitFor(() => second.reports.events[0], 'the queued event');
    expect(report.event.kind.case === 'faultCodeStored' && report.event.kind.value.code).toBe(
      'B1C50',
    );
  });

  it('fails to start with a clear message when the broker is not there', async () => {
    await expect(
      startTestCloud({
        config: {
          broker: { mode: 'external', url: 'mqtt://127.0.0.1:1', persistentSession: false },
          connectTimeoutMs: 1_000,
        },
      }),
    ).rejects.toThrow(/Cannot reach the MQTT broker at mqtt:\/\/127.0.0.1:1/);
  });
});
