/**
 * The cloud link against an external broker: the machine's Mosquitto on 127.0.0.1:1883
 * (anonymous allowed; .ci/run starts it when it is down). A unique module serial per run keeps
 * parallel runs apart, and the retained topics are cleared afterwards (Mosquitto persists them).
 * When Mosquitto is not there this test fails, saying so: it is not skipped.
 */
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import { CommandStatus, PresenceState } from '@mini-sharing/shared-protocol/link';
import { CommandKind, HolderRole, issueRevocationList } from '@mini-sharing/shared-protocol/trust';
import { ResultCode } from '@mini-sharing/shared-protocol/gatt';
import { waitFor } from './testing/cloud.js';
import { ModuleRig } from './testing/rig.js';

const HOST = '127.0.0.1';
const PORT = 1883;
const DAY = 24 * 60 * 60_000;

function reachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(PORT, HOST, () => done(true));
  });
}

let rig: ModuleRig | undefined;

beforeAll(async () => {
  if (!(await reachable())) {
    throw new Error(
      `Mosquitto is not running on ${HOST}:${PORT}. Start it with ` +
        '`mosquitto -d -c /etc/mosquitto/mosquitto.conf` (.ci/run does this) and run again.',
    );
  }
});

afterAll(async () => {
  if (!rig) return;
  await rig.stop();
  await rig.cloud.clearRetained();
  await rig.close();
});

describe('cloud link with Mosquitto', () => {
  it('connects, gets its retained state, runs a command once, delivers events in order', async () => {
    rig = await ModuleRig.open({
      brokerUrl: `mqtt://${HOST}:${PORT}`,
      serial: `MSM-T-${toHex(randomBytes(6))}`,
      username: '',
      password: '',
      cloudUsername: '',
      cloudPassword: '',
    });
    const { access, cloud, clock, fx, serial } = rig;
    const list = await issueRevocationList(fx.cloud, {
      moduleSerial: serial,
      sequence: 3,
      issuedAtMs: clock.now(),
      revoked: [{ tokenId: new Uint8Array(16).fill(3), notAfterMs: clock.now() + DAY }],
    });
    const listState = await cloud.send(
      { case: 'revocationList', value: { revocationList: list } },
      { expiresAtMs: clock.now() + 7 * DAY },
    );
    const bookingState = await cloud.send(
      { case: 'bookingState', value: {} },
      { expiresAtMs: clock.now() + 7 * DAY },
    );
    await rig.start();
    await rig.online();
    expect(CommandStatus[(await cloud.resultFor(listState.id)).status]).toBe('OK');
    expect(CommandStatus[(await cloud.resultFor(bookingState.id)).status]).toBe('OK');
    expect(access.revocationList?.sequence).toBe(3n);
    await waitFor(
      () => cloud.presence().find((p) => p.state === PresenceState.ONLINE),
      'ONLINE presence',
    );

    const command = await cloud.send({ case: 'telemetryRequest', value: {} });
    expect(CommandStatus[(await cloud.resultFor(command.id)).status]).toBe('OK');
    await cloud.publishRaw('commands', command.bytes);
    expect(CommandStatus[(await cloud.resultFor(command.id, 2)).status]).toBe('REPLAYED');

    // Reports go out in order (QoS 1 through the crash-safe queue).
    for (let n = 1; n <= 3; n++) {
      access.emit({
        case: 'keyUsed',
        value: {
          tokenId: new Uint8Array(16).fill(n),
          bookingId: `booking-${n}`,
          role: HolderRole.DRIVER,
          command: CommandKind.UNLOCK,
          result: ResultCode.OK,
        },
      });
    }

    const events = await waitFor(() => {
      const got = cloud.events();
      return got.length === 3 && got;
    }, 'three events');
    expect(events.map((e) => (e.case === 'keyUsed' ? e.value.bookingId : e.case))).toEqual([
      'booking-1',
      'booking-2',
      'booking-3',
    ]);
    await waitFor(() => cloud.telemetry().length > 0, 'telemetry');
    expect(cloud.rejected).toEqual([]);

    await rig.stop();
    await waitFor(
      () => cloud.presence().find((p) => p.state === PresenceState.OFFLINE),
      'OFFLINE presence',
    );
  });
});
