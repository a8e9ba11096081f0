/**
 * Test double of the module side, built on ServiceSession.serve over an in-memory channel pair.
 * It keeps the flash rules of PROTOCOL.md section 11 (window, out-of-order chunks, committed
 * offset, resume, duplicates acknowledged without writing twice), so the client is tested against
 * the protocol rather than against the firmware of the day. Not exported from index.ts.
 */
import { systemClock, type Clock } from '../clock/index.js';
import { bytesEqual } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { encodeFrame, FrameDecoder } from '../framing/index.js';
import {
  BootSlot,
  Compression,
  decodeResponse,
  ErrorCode,
  FlashState,
  PROTOCOL_VERSION,
  type RequestKind,
} from '../messages/index.js';
import {
  createChannelPair,
  FrameType,
  ServiceError,
  ServiceSession,
  type ByteChannel,
} from '../session/index.js';
import { inflateRaw } from './compression.js';

/** What survives a reconnect: the module's flash memory and counters. */
export interface FakeModuleState {
  supplyMillivolts: number;
  /** The transfer as received (compressed when the host deflated it). */
  image: Uint8Array | undefined;
  compression: Compression;
  /** The image written to the slot, inflated, once flash_end verified it. */
  flashed: Uint8Array | undefined;
  acceptsDeflate: boolean;
  imageSha256: Uint8Array | undefined;
  /** Chunks received beyond the committed offset, by offset. */
  pending: Map<number, Uint8Array>;
  committed: number;
  verified: boolean;
  /** Writes to flash memory: a duplicate chunk must not add one. */
  writes: number;
  /** serviceAuthorization bytes seen, per request kind, in order. */
  authorizations: Array<{ kind: RequestKind; proof: Uint8Array }>;
  challenges: number;
  chunkSize: number;
  /** While set, the module holds flash_data answers and reports PAUSED (a supply sag). */
  paused: { until: Promise<void> } | undefined;
}

export function newFakeModuleState(): FakeModuleState {
  return {
    supplyMillivolts: 13_600,
    image: undefined,
    compression: Compression.NONE,
    flashed: undefined,
    acceptsDeflate: true,
    imageSha256: undefined,
    pending: new Map(),
    committed: 0,
    verified: false,
    writes: 0,
    authorizations: [],
    challenges: 0,
    chunkSize: 0,
    paused: undefined,
  };
}

const MODULE_WINDOW = 4;

/** Drops module->host response frames of flash_data for which `drop(offset)` says so. */
function dropFlashDataResponses(channel: ByteChannel, drop: (offset: number) => boolean) {
  const decoder = new FrameDecoder();
  return {
    ...channel,
    write(bytes: Uint8Array) {
      for (const frame of decoder.push(bytes)) {
        if (frame.type === FrameType.Response) {
          const decoded = decodeResponse(frame.payload);
          const body = decoded.ok ? decoded.message.body : undefined;
          if (body?.case === 'flashData' && drop(body.value.offset)) continue;
        }
        channel.write(encodeFrame(frame));
      }
    },
  };
}

export interface FakeModuleOptions {
  state?: FakeModuleState;
  clock?: Clock;
  /** Per-attempt timeout of the host session. */
  timeoutMs?: number;
  dropResponse?: (offset: number) => boolean;
}

export function startFakeModule(options: FakeModuleOptions = {}) {
  const state = options.state ?? newFakeModuleState();
  const clock = options.clock ?? systemClock;
  const [hostEnd, moduleEnd] = createChannelPair();
  const host = new ServiceSession({ channel: hostEnd, clock, timeoutMs: options.timeoutMs ?? 200 });
  const moduleChannel = options.dropResponse
    ? dropFlashDataResponses(moduleEnd, options.dropResponse)
    : moduleEnd;
  const module = new ServiceSession({ channel: moduleChannel, clock });
  const seen = (kind: RequestKind, proof: Uint8Array) =>
    state.authorizations.push({ kind, proof: proof.slice() });

  module.serve({
    hello: () => ({
      protocolMajor: PROTOCOL_VERSION.major,
      protocolMinor: PROTOCOL_VERSION.minor,
      moduleSerial: 'MSM-000123',
      hardwareRevision: 'C',
      firmwareVersion: '1.4.2',
    }),
    deviceInfo: (_r, c) => (
      seen('deviceInfo', c.serviceAuthorization),
      { moduleSerial: 'MSM-000123' }
    ),
    faultCodesRead: (_r, c) => (seen('faultCodesRead', c.serviceAuthorization), { faultCodes: [] }),
    faultCodesClear: (_r, c) => (seen('faultCodesClear', c.serviceAuthorization), { cleared: 2 }),
    factoryReset: (_r, c) => (seen('factoryReset', c.serviceAuthorization), { rebootInMs: 100 }),
    moduleChallenge: () => {
      state.challenges += 1;
      return { nonce: new Uint8Array(32).fill(state.challenges), validForMs: 5000 };
    },
    flashBegin: (request, c) => {
      seen('flashBegin', c.serviceAuthorization);
      if (state.supplyMillivolts < 13_000) {
        throw new ServiceError(ErrorCode.SUPPLY_VOLTAGE_LOW, 'Supply too low', {
          millivolts: String(state.supplyMillivolts),
        });
      }
      if (request.compression === Compression.DEFLATE && !state.acceptsDeflate) {
        throw new ServiceError(ErrorCode.UNSUPPORTED, 'no deflate');
      }
      const same =
        state.imageSha256 &&
        bytesEqual(state.imageSha256, request.imageSha256) &&
        state.compression === request.compression;
      if (!request.resume || !same || !state.image) {
        state.image = new Uint8Array(request.transferSize);
        state.compression = request.compression;
        state.imageSha256 = request.imageSha256.slice();
        state.committed = 0;
        state.verified = false;
      }
      state.pending.clear();
      state.chunkSize = request.chunkSize;
      return {
        targetSlot: BootSlot.B,
        committedOffset: state.committed,
        chunkSize: request.chunkSize,
        window: Math.min(request.window, MODULE_WINDOW),
      };
    },
    flashData: async (request, c) => {
      seen('flashData', c.serviceAuthorization);
      if (state.paused) await state.paused.until;
      const image = state.image;
      if (!image) throw new ServiceError(ErrorCode.FLASH_NOT_STARTED, 'Send flash_begin first');
      const { offset, data } = request;
      if (
        offset + data.length > image.length ||
        offset >= state.committed + MODULE_WINDOW * state.chunkSize
      ) {
        throw new ServiceError(ErrorCode.FLASH_OFFSET_OUT_OF_RANGE, `offset ${offset}`);
      }
      // below the committed offset: a duplicate, acknowledged without writing again
      if (offset >= state.committed) state.pending.set(offset, data.slice());
      for (let chunk = state.pending.get(state.committed); chunk;) {
        state.pending.delete(state.committed);
        image.set(chunk, state.committed);
        state.writes += 1;
        state.committed += chunk.length;
        chunk = state.pending.get(state.committed);
      }
      return { offset, committedOffset: state.committed };
    },
    flashStatus: (_r, c) => {
      seen('flashStatus', c.serviceAuthorization);
      if (!state.paused) return { state: FlashState.RECEIVING, committedOffset: state.committed };
      return {
        state: FlashState.PAUSED,
        committedOffset: state.committed,
        reason: 'supply below 13.0 V',
        supplyMillivolts: 12_400,
      };
    },
    flashEnd: async (_r, c) => {
      seen('flashEnd', c.serviceAuthorization);
      const transfer = state.image;
      if (!transfer || state.committed < transfer.length) {
        throw new ServiceError(ErrorCode.IMAGE_INCOMPLETE, `${state.committed} bytes written`);
      }
      const image =
        state.compression === Compression.DEFLATE ? await inflateRaw(transfer) : transfer;
      state.flashed = image;
      if (!bytesEqual(sha256(image), state.imageSha256 ?? new Uint8Array())) {
        throw new ServiceError(ErrorCode.IMAGE_HASH_MISMATCH, 'hash differs');
      }
      state.verified = true;
      return { targetSlot: BootSlot.B, firmwareVersion: '1.5.0', securityCounter: 3 };
    },
    flashActivate: (_r, c) => {
      seen('flashActivate', c.serviceAuthorization);
      return { trialSlot: BootSlot.B, rebootInMs: 200, confirmWithinMs: 60_000 };
    },
  });
  return { state, host, module, hostEnd, moduleEnd };
}
