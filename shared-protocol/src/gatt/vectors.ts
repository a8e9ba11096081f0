/**
 * Test vectors for the key link (vectors/gatt.json), built deterministically from fixed seeds so
 * another implementation (the module's C firmware, a phone app) can check itself byte for byte.
 * vectors.test.ts asserts the committed JSON equals what this builds.
 */
import { toJson, type JsonValue } from '@bufbuild/protobuf';
import { toHex, utf8 } from '../crypto/bytes.js';
import { seedSigner } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { KeyLinkMessageSchema } from '../messages/gen/mini/key/v1/key_link_pb.js';
import { encodeSigned, signObject } from '../trust/signed.js';
import {
  ADVERTISING_WINDOW_MS,
  buildAdvertisement,
  encodeAdvertisedState,
  windowIndexAt,
  windowTag,
  type AdvertisedState,
} from './advertisement.js';
import { KEY_LINK_MAX_MESSAGE_SIZE, chunkKeyLinkMessage } from './framing.js';
import { buildKeyLinkMessage, encodeKeyLinkMessage, ResultCode } from './messages.js';
import type { KeyLinkMessage } from './messages.js';
import {
  encodeRecognitionMaterial,
  recognitionMaterialFor,
  recognitionWindowCount,
} from './recognition.js';
import {
  KEY_LINK_PROTOCOL_VERSION,
  KEY_NOTIFY_CHARACTERISTIC_UUID,
  KEY_SERVICE_UUID,
  KEY_VERSION_CHARACTERISTIC_UUID,
  KEY_WRITE_CHARACTERISTIC_UUID,
  encodeKeyLinkVersion,
} from './uuids.js';

/** A fixed, random-looking test value: SHA-256 of a label. Never a real key. */
const testBytes = (label: string): Uint8Array => sha256(utf8(`mini-sharing/test-vector/${label}`));

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0); // 2025-01-15T09:00:00Z, a window boundary

export interface GattVectors {
  description: string;
  uuids: Record<'service' | 'write' | 'notify' | 'version', string>;
  versionCharacteristic: { major: number; minor: number; maxMessageSize: number; hex: string };
  framing: Array<{ name: string; mtu: number; messageHex: string; chunksHex: string[] }>;
  messages: Array<{ name: string; message: JsonValue; hex: string }>;
  advertisement: {
    secretHex: string;
    windowMs: number;
    samples: Array<{
      timeMs: number;
      windowIndex: number;
      identifierHex: string;
      stateMask: number;
      state: AdvertisedState;
      stateByte: number;
      advertisementHex: string;
    }>;
  };
  recognition: {
    validFromMs: number;
    validUntilMs: number;
    firstWindow: number;
    windowCount: number;
    materialHex: string;
  };
}

async function sampleMessages(): Promise<Array<{ name: string; message: KeyLinkMessage }>> {
  const cloud = seedSigner(testBytes('cloud-signing-key'));
  const device = seedSigner(testBytes('device-key'));
  // The token, command and list formats belong to trust/; here they are opaque signed bytes.
  const token = encodeSigned(await signObject('digital-key', utf8('opaque token body'), cloud));
  const command = encodeSigned(await signObject('command', utf8('opaque command body'), device));
  const list = encodeSigned(await signObject('revocation-list', utf8('opaque list body'), cloud));
  const nonce = testBytes('challenge').slice(0, 16);
  const challenge = {
    nonce,
    validForMs: 3_000,
    moduleTimeMs: BigInt(T0),
    revocationListSequence: 7n,
  };
  return [
    { name: 'present-token', message: buildKeyLinkMessage('presentToken', { token }, 1) },
    { name: 'challenge', message: buildKeyLinkMessage('challenge', challenge, 1) },
    { name: 'command', message: buildKeyLinkMessage('command', { command }, 2) },
    {
      name: 'result-ok',
      message: buildKeyLinkMessage(
        'result',
        {
          code: ResultCode.OK,
          carState: { locked: false, allClosed: true, driveEnabled: true },
          nextChallenge: { ...challenge, nonce: testBytes('next-challenge').slice(0, 16) },
        },
        2,
      ),
    },
    {
      name: 'result-expired',
      message: buildKeyLinkMessage(
        'result',
        { code: ResultCode.EXPIRED, message: 'This key expired at 2025-01-15T08:30:00.000Z' },
        3,
      ),
    },
    { name: 'challenge-request', message: buildKeyLinkMessage('challengeRequest', {}, 4) },
    {
      name: 'revocation-list-relay',
      message: buildKeyLinkMessage('revocationListRelay', { revocationList: list }, 5),
    },
    { name: 'status-request', message: buildKeyLinkMessage('statusRequest', {}, 6) },
    {
      name: 'status',
      message: buildKeyLinkMessage(
        'status',
        { carState: { locked: true, allClosed: true }, accessEndsAtMs: BigInt(T0 + 3_600_000) },
        6,
      ),
    },
  ];
}

export async function buildGattVectors(): Promise<GattVectors> {
  const messages = await sampleMessages();
  const encoded = (name: string): Uint8Array => {
    const sample = messages.find((m) => m.name === name);
    if (!sample) throw new Error(`no sample message ${name}`);
    return encodeKeyLinkMessage(sample.message);
  };
  const long = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  const framingCases: Array<{ name: string; mtu: number; message: Uint8Array }> = [
    { name: 'challenge at the default MTU', mtu: 23, message: encoded('challenge') },
    { name: 'present-token at the default MTU', mtu: 23, message: encoded('present-token') },
    { name: '300 bytes at MTU 185 (iOS)', mtu: 185, message: long },
    { name: '300 bytes at MTU 247', mtu: 247, message: long },
  ];

  const secret = testBytes('advertising-secret');
  const states: AdvertisedState[] = [
    { locked: true, allClosed: true, ignitionOn: false, bookingActive: false },
    { locked: false, allClosed: true, ignitionOn: true, bookingActive: true },
    { locked: true, allClosed: true, ignitionOn: false, bookingActive: false },
  ];
  const samples = states.map((state, i) => {
    const timeMs = T0 + i * ADVERTISING_WINDOW_MS + 60_000;
    const windowIndex = windowIndexAt(timeMs);
    const tag = windowTag(secret, windowIndex);
    return {
      timeMs,
      windowIndex,
      identifierHex: toHex(tag.identifier),
      stateMask: tag.stateMask,
      state,
      stateByte: encodeAdvertisedState(state),
      advertisementHex: toHex(buildAdvertisement(secret, timeMs, state)),
    };
  });

  const validFromMs = T0 + 5 * 60_000;
  const validUntilMs = T0 + 65 * 60_000;
  const material = recognitionMaterialFor(secret, validFromMs, validUntilMs);

  return {
    description:
      'Key link (BLE) test vectors: see PROTOCOL.md "The key link (BLE)". Built by buildGattVectors() in src/gatt/vectors.ts from fixed test seeds; the token, command and revocation list bytes are opaque signed placeholders.',
    uuids: {
      service: KEY_SERVICE_UUID,
      write: KEY_WRITE_CHARACTERISTIC_UUID,
      notify: KEY_NOTIFY_CHARACTERISTIC_UUID,
      version: KEY_VERSION_CHARACTERISTIC_UUID,
    },
    versionCharacteristic: {
      ...KEY_LINK_PROTOCOL_VERSION,
      maxMessageSize: KEY_LINK_MAX_MESSAGE_SIZE,
      hex: toHex(
        encodeKeyLinkVersion({
          ...KEY_LINK_PROTOCOL_VERSION,
          maxMessageSize: KEY_LINK_MAX_MESSAGE_SIZE,
        }),
      ),
    },
    framing: framingCases.map(({ name, mtu, message }) => ({
      name,
      mtu,
      messageHex: toHex(message),
      chunksHex: chunkKeyLinkMessage(message, mtu).map(toHex),
    })),
    messages: messages.map(({ name, message }) => ({
      name,
      message: toJson(KeyLinkMessageSchema, message),
      hex: toHex(encoded(name)),
    })),
    advertisement: { secretHex: toHex(secret), windowMs: ADVERTISING_WINDOW_MS, samples },
    recognition: {
      validFromMs,
      validUntilMs,
      firstWindow: material.firstWindow,
      windowCount: recognitionWindowCount(material),
      materialHex: toHex(encodeRecognitionMaterial(material)),
    },
  };
}
