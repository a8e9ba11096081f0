/**
 * The key service on a real BLE peripheral stack (@stoprocent/bleno), PROTOCOL.md 15.1: a write
 * characteristic (chunks in), a notify characteristic (chunks out) and the protocol version. One
 * KeyLinkSession per connection; every write is checked at this edge (offset 0, at most one
 * attribute value) before the session sees it.
 */
import type { Bleno, ConnectionHandle, PrimaryService } from '@stoprocent/bleno';
import {
  ATT_MAX_VALUE_SIZE,
  KEY_LINK_MAX_MESSAGE_SIZE,
  KEY_LINK_PROTOCOL_VERSION,
  KEY_NOTIFY_CHARACTERISTIC_UUID,
  KEY_SERVICE_UUID,
  KEY_VERSION_CHARACTERISTIC_UUID,
  KEY_WRITE_CHARACTERISTIC_UUID,
  compactUuid,
  encodeKeyLinkVersion,
} from '@mini-sharing/shared-protocol/gatt';
import type { KeylessLog } from './access-events.js';
import type { KeyLinkSession } from './key-link-session.js';

const COMPONENT = 'key-link';
/** ATT error codes bleno passes through (Core spec Vol 3 Part F 3.4.1.1). */
const ATT_SUCCESS = 0x00;
const ATT_INVALID_OFFSET = 0x07;
const ATT_INVALID_ATTRIBUTE_VALUE_LENGTH = 0x0d;

export interface KeyServiceOptions {
  bleno: Bleno;
  /** A fresh session for a new connection. */
  newSession: (peer: string) => KeyLinkSession;
  log: KeylessLog;
}

export interface KeyService {
  service: PrimaryService;
  /** Sessions of the connected centrals (for diagnostics and tests). */
  readonly sessions: ReadonlyMap<ConnectionHandle, KeyLinkSession>;
  /** The module clock went back: no outstanding challenge may outlive it. */
  dropChallenges(): void;
  close(): void;
}

export function createKeyService(options: KeyServiceOptions): KeyService {
  const { bleno, log } = options;
  const sessions = new Map<ConnectionHandle, KeyLinkSession>();
  const peers = new Map<ConnectionHandle, string>();

  const sessionOf = (handle: ConnectionHandle): KeyLinkSession => {
    let session = sessions.get(handle);
    if (!session) {
      session = options.newSession(peers.get(handle) ?? String(handle));
      sessions.set(handle, session);
    }
    return session;
  };

  const onAccept = (address: string, handle: ConnectionHandle) => {
    peers.set(handle, address);
    log('info', COMPONENT, `central ${address} connected`);
  };
  const onDisconnect = (address: string, handle: ConnectionHandle) => {
    sessions.get(handle)?.close();
    sessions.delete(handle);
    peers.delete(handle);
    log('info', COMPONENT, `central ${address} disconnected`);
  };
  bleno.on('accept', onAccept);
  bleno.on('disconnect', onDisconnect);

  const write = new bleno.Characteristic({
    uuid: compactUuid(KEY_WRITE_CHARACTERISTIC_UUID),
    properties: ['write', 'writeWithoutResponse'],
    onWriteRequest: (handle, data, offset, _withoutResponse, callback) => {
      if (offset !== 0) return callback(ATT_INVALID_OFFSET);
      if (!Buffer.isBuffer(data) || data.length === 0 || data.length > ATT_MAX_VALUE_SIZE) {
        return callback(ATT_INVALID_ATTRIBUTE_VALUE_LENGTH);
      }
      callback(ATT_SUCCESS);
      // Copied: bleno may reuse the buffer; the session answers by notification.
      void sessionOf(handle).write(new Uint8Array(data));
    },
  });
  const notify = new bleno.Characteristic({
    uuid: compactUuid(KEY_NOTIFY_CHARACTERISTIC_UUID),
    properties: ['notify'],
    onSubscribe: (handle, maxValueSize, updateValueCallback) => {
      // bleno hands over MTU - 3 and cuts longer notifications; chunk to exactly that.
      sessionOf(handle).attach(
        (chunk) => updateValueCallback(Buffer.from(chunk)),
        maxValueSize + 3,
      );
    },
    onUnsubscribe: (handle) => sessions.get(handle)?.detach(),
  });
  const version = new bleno.Characteristic({
    uuid: compactUuid(KEY_VERSION_CHARACTERISTIC_UUID),
    properties: ['read'],
    value: Buffer.from(
      encodeKeyLinkVersion({
        ...KEY_LINK_PROTOCOL_VERSION,
        maxMessageSize: KEY_LINK_MAX_MESSAGE_SIZE,
      }),
    ),
  });
  const service = new bleno.PrimaryService({
    uuid: compactUuid(KEY_SERVICE_UUID),
    characteristics: [write, notify, version],
  });

  return {
    service,
    sessions,
    dropChallenges: () => {
      for (const session of sessions.values()) session.dropChallenge();
    },
    close: () => {
      bleno.removeListener('accept', onAccept);
      bleno.removeListener('disconnect', onDisconnect);
      for (const session of sessions.values()) session.close();
      sessions.clear();
    },
  };
}
