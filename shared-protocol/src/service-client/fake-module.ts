/**
 * Test double of the module side, built on ServiceSession.serve over an in-memory channel pair.
 * It keeps the flash rules of PROTOCOL.md section 11 (window counted from the bytes received in
 * order, out-of-order chunks, committed offset, deflate segments committed whole, resume,
 * duplicates acknowledged without writing twice), so the client is tested against the protocol
 * rather than against the firmware of the day. Not exported from index.ts.
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
  type FlashBeginRequest,
  type RequestKind,
} from '../messages/index.js';
import {
  createChannelPair,
  FrameType,
  ServiceError,
  ServiceSession,
  type ByteChannel,
} from '../session/index.js';
import { inflateRawSegments } from './compression.js';

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
  /** The deflate segment table of the transfer (empty without compression). */
  segmentSize: number;
  segmentTransferSizes: number[];
  /** The last flash_begin as received. */
  lastBegin: FlashBeginRequest | undefined;
  /** Chunks received beyond the bytes received in order, by offset. */
  pending: Map<number, Uint8Array>;
  /** Transfer bytes received in order: the window counts from here. */
  received: number;
  /** Transfer bytes written for good: all received ones, or with deflate whole segments only. */
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
    segmentSize: 0,
    segmentTransferSizes: [],
    lastBegin: undefined,
    pending: new Map(),
    received: 0,
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

const sameNumbers = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((value, i) => value === b[i]);

/** The segment table of a deflate flash_begin, or why it is malformed. */
function segmentTableProblem(request: FlashBeginRequest): string | undefined {
  const { segmentSize, segmentTransferSizes: sizes } = request;
  if (segmentSize === 0) return 'segment_size is missing';
  if (sizes.length !== Math.ceil(request.imageSize / segmentSize)) return 'wrong segment count';
  if (sizes.reduce((sum, size) => sum + size, 0) !== request.transferSize) {
    return 'segment sizes do not add up to transfer_size';
  }
  return undefined;
}

/** Transfer offset of whole segments received (with deflate), or simply of what was received. */
function committedOf(state: FakeModuleState): number {
  if (state.compression !== Compression.DEFLATE) return state.received;
  let end = 0;
  for (const size of state.segmentTransferSizes) {
    if (end + size > state.received) break;
    end += size;
  }
  return end;
}

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
      state.lastBegin = request;
      const deflate = request.compression === Compression.DEFLATE;
      if (deflate && !state.acceptsDeflate) {
        throw new ServiceError(ErrorCode.UNSUPPORTED, 'no deflate');
      }
      const problem = deflate ? segmentTableProblem(request) : undefined;
      if (problem) throw new ServiceError(ErrorCode.BAD_REQUEST, problem);
      // This double keeps transfer bytes, so only the very same transfer can be resumed.
      const same =
        state.imageSha256 &&
        bytesEqual(state.imageSha256, request.imageSha256) &&
        state.compression === request.compression &&
        state.segmentSize === request.segmentSize &&
        sameNumbers(state.segmentTransferSizes, request.segmentTransferSizes);
      if (!request.resume || !same || !state.image) {
        state.image = new Uint8Array(request.transferSize);
        state.compression = request.compression;
        state.segmentSize = request.segmentSize;
        state.segmentTransferSizes = [...request.segmentTransferSizes];
        state.imageSha256 = request.imageSha256.slice();
        state.committed = 0;
        state.verified = false;
      }
      // what was received but not committed is lost with the session (RAM)
      state.received = state.committed;
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
        offset + data.length > state.received + MODULE_WINDOW * state.chunkSize
      ) {
        throw new ServiceError(ErrorCode.FLASH_OFFSET_OUT_OF_RANGE, `offset ${offset}`);
      }
      // below the received offset: a duplicate, acknowledged without writing again
      if (offset >= state.received) state.pending.set(offset, data.slice());
      for (let chunk = state.pending.get(state.received); chunk;) {
        state.pending.delete(state.received);
        image.set(chunk, state.received);
        state.writes += 1;
        state.received += chunk.length;
        chunk = state.pending.get(state.received);
      }
      state.committed = committedOf(state);
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
      let image = transfer;
      if (state.compression === Compression.DEFLATE) {
        const segments = await inflateRawSegments(transfer, state.segmentTransferSizes);
        const last = (state.lastBegin?.imageSize ?? 0) - (segments.length - 1) * state.segmentSize;
        if (
          segments.some((s, i) => s.length !== (i < segments.length - 1 ? state.segmentSize : last))
        ) {
          throw new ServiceError(ErrorCode.BAD_REQUEST, 'a segment inflates to the wrong length');
        }
        image = new Uint8Array(segments.reduce((sum, s) => sum + s.length, 0));
        segments.reduce((position, s) => (image.set(s, position), position + s.length), 0);
      }
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
