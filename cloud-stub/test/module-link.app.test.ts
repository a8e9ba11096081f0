/**
 * The module link inside the real cloud app, on both engines: buildApp with the module link
 * plugin (embedded broker on any free port), a module registered in module_registrations, and the
 * REAL module cloud link (module/sim's harness) provisioned with what the cloud gives. The module
 * comes online (stored presence and last contact), its fault code lands in module_fault_codes,
 * a command reaches it, retained state set through the store reaches it, a decommissioned
 * registration is refused at the broker, and app.close() ends with the presence lost and nothing
 * hanging. Once more on Mosquitto (an external broker by URL) for the path that has no broker ACL.
 */
import { randomUUID } from 'node:crypto';
import { connectAsync } from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { openCloudLinkHarness, type CloudLinkHarness } from '@mini-sharing/module/sim';
import { randomBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import { fromBinary } from '@mini-sharing/shared-protocol/messages';
import {
  CommandResultSchema,
  CommandStatus,
  moduleTopic,
} from '@mini-sharing/shared-protocol/link';
import { HolderRole } from '@mini-sharing/shared-protocol/trust';
import { buildApp, type CloudApp } from '../src/app.js';
import type { CloudConfigInput } from '../src/config.js';
import { generateModuleCredentials } from '../src/keys/module-credentials.js';
import type { ExternalBrokerConfig } from '../src/module-link/config.js';
import { saveModuleRetainedState } from '../src/module-link/db-stores.js';
import type { LinkDrop } from '../src/module-link/module-link.js';
import { moduleLinkPlugin, type ModuleLinkPluginOptions } from '../src/module-link/plugin.js';
import { uniqueSerial, waitFor } from '../src/module-link/testing/fake-module.js';
import { MOSQUITTO_URL, requireMosquitto } from '../src/module-link/testing/mosquitto.js';
import { describeEngines, type TestStorage } from '../src/storage/testing/engines.js';
import { testConfig } from './helpers.js';

const VIN = 'WMW11DJ0702T12345';
const DAY = 24 * 60 * 60 * 1000;

const cleanup: Array<() => Promise<unknown>> = [];
/** What the link dropped (a shared broker carries other tests' modules too: check by serial). */
let drops: LinkDrop[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function cloudApp(
  storage: TestStorage,
  config: CloudConfigInput = { mqtt: { mode: 'embedded', host: '127.0.0.1', port: 0 } },
  plugin: ModuleLinkPluginOptions = {},
): Promise<CloudApp> {
  // The real clock: the module signs with it, and the link refuses reports from the future.
  const cloud = await buildApp(testConfig(config), {
    storage,
    logger: false,
    plugins: [moduleLinkPlugin(plugin)],
  });
  cleanup.push(() => cloud.app.close());
  drops = [];
  cloud.app.moduleLink!.onDrop((drop) => drops.push(drop));
  return cloud;
}

/**
 * Registration as the registration route leaves it, and provisioning as the workshop does it:
 * the module's own identity key, new credentials, a certificate from the cloud's current key and
 * the module-link settings the running link gives.
 */
async function provisionedModule(
  cloud: CloudApp,
  status: 'active' | 'decommissioned' = 'active',
): Promise<CloudLinkHarness> {
  const { context, app } = cloud;
  const serial = uniqueSerial('MSM-A');
  const moduleSim = await openCloudLinkHarness({
    serial,
    rootPublicKey: context.keys.rootPublicKey,
  });
  cleanup.push(() => moduleSim.close());
  const { credentials, passwordHash } = await generateModuleCredentials(serial);
  const certificate = await context.keys.issueModuleCertificate({
    moduleSerial: serial,
    modulePublicKey: moduleSim.identityPublicKey,
    vin: VIN,
  });
  const advertisingSecret = randomBytes(32);
  const at = context.now().toISOString();
  await context.storage.db
    .insertInto('module_registrations')
    .values({
      id: `REG-${randomUUID()}`,
      serial,
      vin: VIN,
      hardware_revision: 'HW-B',
      firmware_version: '1.4.0',
      identity_public_key: toHex(moduleSim.identityPublicKey),
      certificate: Buffer.from(certificate),
      advertising_secret: Buffer.from(advertisingSecret),
      mqtt_username: credentials.username,
      mqtt_password_hash: passwordHash,
      owner_generation: 0,
      status,
      dealer_id: 'DLR-1',
      mechanic_id: 'MEC-1',
      station_id: 'STN-1',
      registered_at: at,
      updated_at: at,
      ready_to_share_at: null,
      decommissioned_at: status === 'decommissioned' ? at : null,
      decommissioned_by: status === 'decommissioned' ? 'ADM-1' : null,
      decommission_reason: status === 'decommissioned' ? 'replaced' : null,
    })
    .execute();
  await moduleSim.provision({
    moduleCertificate: certificate,
    moduleLinkSettings: app.moduleLink!.moduleLinkSettings({
      serial,
      credentials,
      advertisingSecret,
    }),
    cloudKeyCertificates: context.keys.moduleLinkCertificates(),
  });
  await moduleSim.startLink({
    firmwareVersion: '1.4.0-app',
    options: {
      reconnectMinMs: 50,
      reconnectMaxMs: 250,
      connectTimeoutMs: 2_000,
      stateSettleMs: 500,
      telemetryDebounceMs: 30,
    },
  });
  return moduleSim;
}

const linkStatus = (storage: TestStorage, serial: string) =>
  storage.db
    .selectFrom('module_link_status')
    .selectAll()
    .where('serial', '=', serial)
    .executeTakeFirst();

async function commandResult(storage: TestStorage, serial: string, id: Uint8Array) {
  return waitFor(
    async () => {
      const rows = await storage.db
        .selectFrom('module_reports')
        .select('body')
        .where('serial', '=', serial)
        .where('kind', '=', 'command-result')
        .execute();
      return rows
        .map((row) => fromBinary(CommandResultSchema, new Uint8Array(row.body)))
        .find((result) => toHex(result.commandId) === toHex(id));
    },
    `the result of command ${toHex(id)}`,
  );
}

/** What every broker must carry: presence, a fault code, a command, retained state. */
async function moduleWorksThroughTheCloud(
  storage: TestStorage,
  cloud: CloudApp,
  moduleSim: CloudLinkHarness,
) {
  const { serial } = moduleSim;
  const link = cloud.app.moduleLink!;
  const online = await waitFor(async () => {
    const row = await linkStatus(storage, serial);
    return row?.presence === 'online' && row;
  }, 'the module online in module_link_status');
  expect(online.firmware_version).toBe('1.4.0-app');
  expect(Number(online.last_contact_ms)).toBeGreaterThan(Date.now() - 30_000);
  expect(Number(online.last_contact_ms)).toBeLessThanOrEqual(Date.now());
  await waitFor(() => moduleSim.status?.state === 'online', 'the module link online');

  moduleSim.emit({
    case: 'faultCodeStored',
    value: { code: 'B1C42', active: true, occurrences: 2 },
  });
  const fault = await waitFor(
    () =>
      storage.db
        .selectFrom('module_fault_codes')
        .selectAll()
        .where('serial', '=', serial)
        .executeTakeFirst(),
    'the fault code stored',
  );
  expect(fault).toMatchObject({ code: 'B1C42', active: 1, occurrences: 2 });

  const command = await link.publishCommand(serial, {
    case: 'bookingStarted',
    value: {
      bookingId: 'booking-1',
      tokenId: new Uint8Array(16).fill(1),
      role: HolderRole.DRIVER,
      bookingEndMs: BigInt(Date.now() + DAY),
    },
  });
  expect(CommandStatus[(await commandResult(storage, serial, command.id)).status]).toBe('OK');
  expect(moduleSim.access.count('bookingStarted')).toBe(1);
  expect(moduleSim.access.runningBooking?.bookingId).toBe('booking-1');

  // Retained state: stored, then signed and published; the module applies it.
  const revocationList = await cloud.context.keys.issueRevocationList({
    moduleSerial: serial,
    sequence: 3,
    revoked: [],
  });
  await saveModuleRetainedState(storage.db, link, serial, {
    body: { case: 'revocationList', value: { revocationList } },
    expiresAtMs: Date.now() + DAY,
  });
  await waitFor(
    () => moduleSim.access.revocationList?.sequence === 3n,
    'the revocation list applied at the module',
  );
  expect(drops.filter((drop) => drop.serial === serial)).toEqual([]);
}

describeEngines('the module link in the cloud app', (storage) => {
  it('runs the real module link on the embedded broker; close leaves the presence lost and hangs nothing', async () => {
    const cloud = await cloudApp(storage());
    const link = cloud.app.moduleLink!;
    expect(link.brokerPort).toBeGreaterThan(0);
    expect(link.moduleBrokerUrl).toBe(`mqtt://127.0.0.1:${link.brokerPort}`);
    expect(cloud.context.moduleLinkEndpoint.brokerUrl).toBe(link.moduleBrokerUrl);
    const moduleSim = await provisionedModule(cloud);
    await moduleWorksThroughTheCloud(storage(), cloud, moduleSim);
    expect(link.embeddedBroker?.refusals).toEqual({ connect: 0, publish: 0, subscribe: 0 });
    expect(link.stats().dropped).toEqual({}); // the embedded broker carries only this module

    const before = await linkStatus(storage(), moduleSim.serial);
    const started = Date.now();
    await cloud.app.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(link.connected).toBe(false);
    // The embedded broker stopped: the module's connection ended with it (a will is no contact).
    const after = await linkStatus(storage(), moduleSim.serial);
    expect(after).toMatchObject({
      presence: 'connection-lost',
      last_contact_ms: before!.last_contact_ms,
    });
    expect(toHex(after!.connection_id!)).toBe(toHex(before!.connection_id!));
    await waitFor(() => moduleSim.status?.state !== 'online', 'the module seeing the cloud gone');
  });

  it('tells a module that was offline during a key rotation the new next key when it is back', async () => {
    const cloud = await cloudApp(storage());
    const moduleSim = await provisionedModule(cloud);
    await waitFor(() => moduleSim.status?.state === 'online', 'the module online');
    const first = cloud.context.keys.next;
    await waitFor(() => moduleSim.keyRing?.find(first.keyId), 'the next key held');

    await moduleSim.stopLink();
    const rotation = await cloud.context.keys.rotate();
    expect(moduleSim.keyRing?.find(rotation.next.keyId)).toBeUndefined();
    await moduleSim.startLink({
      firmwareVersion: '1.4.0-app',
      options: { reconnectMinMs: 50, reconnectMaxMs: 250, connectTimeoutMs: 2_000 },
    });
    // Signed by the new current key (the module's former "next"), the announcement is taken.
    await waitFor(() => moduleSim.keyRing?.find(rotation.next.keyId), 'the new next key held');
    // Announced once per time it came online; each answered.
    await waitFor(async () => {
      const results = await storage()
        .db.selectFrom('module_reports')
        .select('body_case')
        .where('serial', '=', moduleSim.serial)
        .where('kind', '=', 'command-result')
        .execute();
      return results.length >= 2;
    }, 'both announcements answered');
    expect(drops.filter((drop) => drop.serial === moduleSim.serial)).toEqual([]);
  });

  it('refuses a decommissioned registration at the broker and stores nothing of it', async () => {
    const cloud = await cloudApp(storage());
    const link = cloud.app.moduleLink!;
    const retired = await provisionedModule(cloud, 'decommissioned');
    await waitFor(() => (link.embeddedBroker?.refusals.connect ?? 0) >= 2, 'two refused CONNECTs');
    expect(retired.status?.state).not.toBe('online');
    expect(retired.status?.failedAttempts).toBeGreaterThanOrEqual(1);
    expect(await linkStatus(storage(), retired.serial)).toBeUndefined();

    // Its stored password, tried directly: not authorized.
    await expect(
      connectAsync(link.moduleBrokerUrl, {
        clientId: retired.serial,
        username: retired.serial,
        password: 'anything',
        reconnectPeriod: 0,
        protocolVersion: 4,
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password|Connection refused/i);
  });

  it('runs the same on Mosquitto, an external broker by URL', async () => {
    await requireMosquitto();
    const broker: ExternalBrokerConfig = {
      mode: 'external',
      url: MOSQUITTO_URL,
      // A shared broker: a client id of our own, and no session left behind.
      clientId: `mini-cloud-app-test-${toHex(randomBytes(6))}`,
      persistentSession: false,
    };
    const cloud = await cloudApp(
      storage(),
      { mqtt: { mode: 'external', url: MOSQUITTO_URL } },
      {
        link: { broker },
      },
    );
    const link = cloud.app.moduleLink!;
    expect(link.brokerPort).toBeUndefined();
    expect(cloud.context.moduleLinkEndpoint.brokerUrl).toBe(MOSQUITTO_URL);
    const moduleSim = await provisionedModule(cloud);
    // Mosquitto keeps retained messages: clear this module's when done.
    cleanup.unshift(async () => {
      const client = await connectAsync(MOSQUITTO_URL, { reconnectPeriod: 0, protocolVersion: 4 });
      for (const kind of ['presence', 'booking', 'revocation-list'] as const) {
        await client.publishAsync(moduleTopic(moduleSim.serial, kind), Buffer.alloc(0), {
          qos: 1,
          retain: true,
        });
      }
      await client.endAsync();
    });
    await moduleWorksThroughTheCloud(storage(), cloud, moduleSim);

    await moduleSim.stopLink();
    await waitFor(async () => {
      const row = await linkStatus(storage(), moduleSim.serial);
      return row?.presence === 'offline';
    }, 'OFFLINE stored');
    const started = Date.now();
    await cloud.app.close();
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
