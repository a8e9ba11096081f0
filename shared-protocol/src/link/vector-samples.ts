/**
 * The sample envelope bodies of vectors/link.json: one per body kind, along one driver's booking
 * (started 09:00, planned end 12:00, returned 11:50, access ended 12:31).
 */
import { utf8 } from '../crypto/bytes.js';
import type { Signer } from '../crypto/ed25519.js';
import { ResultCode } from '../messages/gen/mini/key/v1/key_link_pb.js';
import { CommandKind, HolderRole } from '../messages/gen/mini/trust/v1/formats_pb.js';
import { encodeSigned, signObject } from '../trust/signed.js';
import type { CloudBodyInit, ModuleBodyInit } from './envelopes.js';
import { AccessEndAction, CommandStatus, Door, LockState, PresenceState } from './payloads.js';

export const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MINUTE = 60_000;

export interface CloudSample {
  name: string;
  at: number;
  lifetime: number;
  body: CloudBodyInit;
}
export interface ModuleSample {
  name: string;
  at: number;
  body: ModuleBodyInit;
}

/** `testBytes` makes fixed random-looking values; `cloud` signs the opaque trust objects. */
export async function sampleBodies(
  testBytes: (label: string) => Uint8Array,
  cloud: Signer,
): Promise<{ cloudBodies: CloudSample[]; moduleBodies: ModuleSample[] }> {
  const tokenId = testBytes('token-id').slice(0, 16);
  const opaque = async (domain: string, text: string) =>
    encodeSigned(await signObject(domain, utf8(text), cloud));

  const cloudBodies: CloudSample[] = [
    {
      name: 'booking-started',
      at: T0,
      lifetime: 5 * MINUTE,
      body: {
        case: 'bookingStarted',
        value: {
          bookingId: 'bk-1001',
          tokenId,
          role: HolderRole.DRIVER,
          bookingEndMs: BigInt(T0 + 180 * MINUTE),
        },
      },
    },
    {
      name: 'booking-ended',
      at: T0 + 170 * MINUTE,
      lifetime: 5 * MINUTE,
      body: {
        case: 'bookingEnded',
        value: { bookingId: 'bk-1001', tokenId, endedAtMs: BigInt(T0 + 170 * MINUTE) },
      },
    },
    {
      name: 'time-sync',
      at: T0,
      lifetime: MINUTE,
      body: { case: 'timeSync', value: { cloudTimeMs: BigInt(T0) } },
    },
    {
      name: 'cloud-key-rotation',
      at: T0,
      lifetime: 60 * MINUTE,
      body: {
        case: 'cloudKeyRotation',
        value: {
          cloudKeyCertificate: await opaque('cloud-key-certificate', 'opaque certificate body'),
          retiredKeyIds: [testBytes('retired-key').slice(0, 8)],
        },
      },
    },
    {
      name: 'new-owner-reset',
      at: T0,
      lifetime: 5 * MINUTE,
      body: { case: 'newOwnerReset', value: { ownerGeneration: 2 } },
    },
    {
      name: 'telemetry-request',
      at: T0,
      lifetime: MINUTE,
      body: { case: 'telemetryRequest', value: {} },
    },
    {
      name: 'revocation-list-state',
      at: T0,
      lifetime: 7 * 24 * 60 * MINUTE,
      body: {
        case: 'revocationList',
        value: { revocationList: await opaque('revocation-list', 'opaque list body') },
      },
    },
    {
      name: 'booking-state-running',
      at: T0,
      lifetime: 210 * MINUTE,
      body: {
        case: 'bookingState',
        value: {
          running: {
            bookingId: 'bk-1001',
            tokenId,
            role: HolderRole.DRIVER,
            startedAtMs: BigInt(T0),
            bookingEndMs: BigInt(T0 + 180 * MINUTE),
          },
        },
      },
    },
    {
      name: 'booking-state-none',
      at: T0 + 171 * MINUTE,
      lifetime: 7 * 24 * 60 * MINUTE,
      body: { case: 'bookingState', value: {} },
    },
  ];

  const moduleBodies: ModuleSample[] = [
    {
      name: 'presence-online',
      at: T0,
      body: {
        case: 'presence',
        value: {
          state: PresenceState.ONLINE,
          firmwareVersion: '1.4.2',
          connectionId: testBytes('connection').slice(0, 16),
        },
      },
    },
    {
      name: 'presence-last-will',
      at: T0,
      body: {
        case: 'presence',
        value: {
          state: PresenceState.CONNECTION_LOST,
          firmwareVersion: '1.4.2',
          connectionId: testBytes('connection').slice(0, 16),
        },
      },
    },
    {
      name: 'telemetry-parked',
      at: T0 - MINUTE,
      body: {
        case: 'telemetry',
        value: {
          batteryMillivolts: 12_480,
          fuelPercent: 63,
          odometerKm: 48_213,
          lockState: LockState.LOCKED,
          ignitionOn: false,
          position: {
            latitudeE7: 481_351_250,
            longitudeE7: 115_819_980,
            accuracyM: 8,
            fixTimeMs: BigInt(T0 - MINUTE),
          },
        },
      },
    },
    {
      name: 'telemetry-during-driver-booking',
      at: T0 + 30 * MINUTE,
      body: {
        case: 'telemetry',
        value: {
          batteryMillivolts: 14_120,
          fuelPercent: 58,
          odometerKm: 48_241,
          lockState: LockState.UNLOCKED,
          openDoors: [Door.FRONT_LEFT],
          ignitionOn: true,
        },
      },
    },
    {
      name: 'event-key-used',
      at: T0 + 2 * MINUTE,
      body: {
        case: 'event',
        value: {
          kind: {
            case: 'keyUsed',
            value: {
              tokenId,
              bookingId: 'bk-1001',
              role: HolderRole.DRIVER,
              command: CommandKind.UNLOCK,
              result: ResultCode.OK,
            },
          },
        },
      },
    },
    {
      name: 'event-trip-started',
      at: T0 + 5 * MINUTE,
      body: {
        case: 'event',
        value: {
          kind: {
            case: 'tripStarted',
            value: { bookingId: 'bk-1001', tokenId, odometerKm: 48_213 },
          },
        },
      },
    },
    {
      name: 'event-trip-ended',
      at: T0 + 160 * MINUTE,
      body: {
        case: 'event',
        value: {
          kind: { case: 'tripEnded', value: { bookingId: 'bk-1001', tokenId, odometerKm: 48_297 } },
        },
      },
    },
    {
      name: 'event-access-ended-locked',
      at: T0 + 211 * MINUTE,
      body: {
        case: 'event',
        value: {
          kind: {
            case: 'accessEnded',
            value: { bookingId: 'bk-1001', tokenId, action: AccessEndAction.LOCKED },
          },
        },
      },
    },
    {
      name: 'command-result-ok',
      at: T0 + 1000,
      body: {
        case: 'commandResult',
        value: {
          commandId: testBytes('cloud-envelope/booking-started').slice(0, 16),
          status: CommandStatus.OK,
        },
      },
    },
  ];

  return { cloudBodies, moduleBodies };
}
