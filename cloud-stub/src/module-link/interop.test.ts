/**
 * End to end with the REAL module cloud link (unchanged firmware code, run by the module's
 * simulated world: `openCloudLinkHarness` from @mini-sharing/module/sim) on the cloud's embedded
 * broker, provisioned with what the cloud's keys issue: the development root pinned, a module
 * certificate, module-link settings (this broker, generated credentials, the current and next
 * signing key certificates). Checks presence, a key-used event arriving verified, retained state
 * applied at connect, a command executed once, the will, a key rotation the module follows, and
 * OFFLINE at close.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCloudLinkHarness, type CloudLinkHarness } from '@mini-sharing/module/sim';
import { randomBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import { ResultCode } from '@mini-sharing/shared-protocol/gatt';
import { CommandStatus } from '@mini-sharing/shared-protocol/link';
import {
  CommandKind,
  HolderRole,
  verifyModuleCertificate,
} from '@mini-sharing/shared-protocol/trust';
import { CloudKeys } from '../keys/cloud-keys.js';
import { DEVELOPMENT_KEYS_DIR, loadCloudKeyFiles } from '../keys/key-files.js';
import { InMemoryKeyStore } from '../keys/key-store.js';
import type { RetainedState, RetainedStateSource } from './module-link.js';
import { startTestCloud, type TestCloud } from './testing/cloud.js';
import { uniqueSerial, waitFor } from './testing/fake-module.js';

const DAY = 24 * 60 * 60 * 1000;
const VIN = 'WMW11DJ0702T12345';

let cloud: TestCloud;
let moduleSim: CloudLinkHarness;
const serial = uniqueSerial('MSM-I');

beforeEach(async () => {
  const files = await loadCloudKeyFiles(DEVELOPMENT_KEYS_DIR);
  const keys = await CloudKeys.open({
    root: files.root.signer,
    store: new InMemoryKeyStore(),
    initialSigningSeed: files.signing.seed,
  });
  // What the cloud holds for this module now: retained state, re-published when it comes online.
  const state: RetainedStateSource = {
    retainedState: async (forSerial): Promise<RetainedState[]> => [
      {
        body: {
          case: 'revocationList',
          value: {
            revocationList: await keys.issueRevocationList({
              moduleSerial: forSerial,
              sequence: 1,
              revoked: [],
            }),
          },
        },
        expiresAtMs: Date.now() + 7 * DAY,
      },
      { body: { case: 'bookingState', value: {} }, expiresAtMs: Date.now() + 7 * DAY },
    ],
  };
  cloud = await startTestCloud({ keys, state });

  // Provisioning, as the workshop does it: the module makes its identity key, the cloud
  // registers it with new credentials and issues the certificate and the settings.
  moduleSim = await openCloudLinkHarness({ serial, rootPublicKey: keys.rootPublicKey });
  const identityPublicKey = moduleSim.identityPublicKey;
  const credentials = await cloud.directory.register({ serial, identityPublicKey });
  await moduleSim.provision({
    moduleCertificate: await keys.issueModuleCertificate({
      moduleSerial: serial,
      modulePublicKey: identityPublicKey,
      vin: VIN,
    }),
    moduleLinkSettings: cloud.link.moduleLinkSettings({
      serial,
      credentials,
      advertisingSecret: randomBytes(32),
    }),
    cloudKeyCertificates: keys.moduleLinkCertificates(),
  });
  const keyRing = moduleSim.keyRing!;
  const certificate = await verifyModuleCertificate(moduleSim.moduleCertificate!, {
    keyRing,
    moduleSerial: serial,
    modulePublicKey: identityPublicKey,
    vin: VIN,
  });
  expect(certificate.ok).toBe(true);
  expect(keyRing.signingKeys).toHaveLength(2);

  await moduleSim.startLink({
    firmwareVersion: '1.4.0-interop',
    options: {
      reconnectMinMs: 50,
      reconnectMaxMs: 250,
      connectTimeoutMs: 2_000,
      stateSettleMs: 2_000,
      telemetryDebounceMs: 30,
    },
  });
});

afterEach(async () => {
  await moduleSim?.close();
  await cloud.close();
});

const resultFor = (id: Uint8Array, n = 1) =>
  waitFor(
    () =>
      cloud.reports.commandResults.filter((r) => toHex(r.result.commandId) === toHex(id))[n - 1],
    `result ${n} for ${toHex(id)}`,
  );

describe('the real module cloud link on the embedded broker', () => {
  it('comes online, reports verified, runs a cloud command once, follows a key rotation', async () => {
    // Presence: the module's retained ONLINE, verified with its registered key.
    const online = await waitFor(async () => {
      const status = await cloud.link.moduleLinkStatus(serial);
      return status?.presence === 'online' && status;
    }, 'the module online');
    expect(online.firmwareVersion).toBe('1.4.0-interop');
    expect(online.lastContactMs).toBeGreaterThan(Date.now() - 30_000);

    // Retained state re-published at ONLINE, applied before the module goes online.
    await waitFor(() => moduleSim.status?.state === 'online', 'the module link online');
    await waitFor(
      () => moduleSim.access.revocationList?.sequence === 1n,
      'the revocation list applied',
    );
    await waitFor(() => cloud.reports.commandResults.length >= 2, 'the state results');
    expect(cloud.reports.commandResults.map((r) => CommandStatus[r.result.status])).toEqual([
      'OK',
      'OK',
    ]);
    expect(cloud.link.embeddedBroker?.refusals).toEqual({ connect: 0, publish: 0, subscribe: 0 });

    // A key used at the car arrives as a verified event.
    moduleSim.emit({
      case: 'keyUsed',
      value: {
        tokenId: new Uint8Array(16).fill(7),
        bookingId: 'booking-7',
        role: HolderRole.DRIVER,
        command: CommandKind.UNLOCK,
        result: ResultCode.OK,
      },
    });
    const used = await waitFor(() => cloud.reports.events[0], 'the key-used event');
    expect(used.serial).toBe(serial);
    expect(used.event.kind.case).toBe('keyUsed');
    expect(used.event.kind.case === 'keyUsed' && used.event.kind.value.bookingId).toBe('booking-7');
    await waitFor(() => cloud.reports.telemetryReports.length > 0, 'telemetry');

    // A command from the cloud runs once; the same envelope id again is refused as a replay.
    const body = {
      case: 'bookingStarted' as const,
      value: {
        bookingId: 'booking-8',
        tokenId: new Uint8Array(16).fill(8),
        role: HolderRole.DRIVER,
        bookingEndMs: BigInt(Date.now() + DAY),
      },
    };
    const command = await cloud.link.publishCommand(serial, body);
    expect(CommandStatus[(await resultFor(command.id)).result.status]).toBe('OK');
    await cloud.link.publishCommand(serial, body, { id: command.id });
    expect(CommandStatus[(await resultFor(command.id, 2)).result.status]).toBe('REPLAYED');
    expect(moduleSim.access.count('bookingStarted')).toBe(1);
    expect(moduleSim.access.runningBooking?.bookingId).toBe('booking-8');

    // Key rotation: the next key signs from now on; the module already trusts it, and takes
    // the announcement of the new next key.
    const rotation = await cloud.keys.rotate();
    const announced = await cloud.link.publishCommand(serial, rotation.announcement);
    expect(CommandStatus[(await resultFor(announced.id)).result.status]).toBe('OK');
    expect(toHex(announced.signerKeyId)).toBe(rotation.current.keyIdHex);
    const ring = moduleSim.keyRing!;
    expect(ring.find(rotation.next.keyId)).toBeDefined();
    await cloud.keys.rotate(); // the key announced above signs now
    const afterSecond = await cloud.link.publishCommand(serial, {
      case: 'telemetryRequest',
      value: {},
    });
    expect(CommandStatus[(await resultFor(afterSecond.id)).result.status]).toBe('OK');

    expect(cloud.link.stats().dropped).toEqual({});
  });

  it('the will marks the connection lost when it dies; the module comes back; OFFLINE at close', async () => {
    const online = await waitFor(async () => {
      const status = await cloud.link.moduleLinkStatus(serial);
      return status?.presence === 'online' && status;
    }, 'the module online');
    // Cut the module's connection at the broker (no DISCONNECT): the broker sends its will.
    const clients = (
      cloud.link.embeddedBroker!.aedes as unknown as {
        clients: Record<string, { conn: { destroy(): void } }>;
      }
    ).clients;
    clients[serial]!.conn.destroy();
    const lost = await waitFor(
      () =>
        cloud.reports.statusHistory.find(
          (s) => s.presence === 'connection-lost' && s.serial === serial,
        ),
      'the will',
    );
    expect(lost.connectionId).toEqual(online.connectionId);
    expect(lost.lastContactMs).toBe(online.lastContactMs);
    const back = await waitFor(async () => {
      const status = await cloud.link.moduleLinkStatus(serial);
      return status?.presence === 'online' && status;
    }, 'the module back online');
    expect(back.connectionId).not.toEqual(online.connectionId);

    await moduleSim.stopLink();
    const offline = await waitFor(async () => {
      const status = await cloud.link.moduleLinkStatus(serial);
      return status?.presence === 'offline' && status;
    }, 'OFFLINE');
    expect(offline.connectionId).toEqual(back.connectionId);
    expect(cloud.link.stats().dropped).toEqual({});
  });
});
