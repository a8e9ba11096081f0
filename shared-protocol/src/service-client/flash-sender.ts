/**
 * The host side of flashing (PROTOCOL.md section 11): flash_begin (or resume), a sliding window of
 * flash_data requests in flight, selective retransmit of the chunks whose answer did not come,
 * then flash_end and flash_activate. Keeping the window full is what makes the line efficient: a
 * stop-and-wait sender leaves the line idle for a round trip per chunk.
 */
import { sha256 } from '../crypto/hash.js';
import {
  Compression,
  ErrorCode,
  FlashState,
  type FlashActivateResponse,
  type FlashBeginResponse,
  type FlashEndResponse,
  type RequestInitOf,
  type RequestKind,
  type ResponseOf,
} from '../messages/index.js';
import { CancelledError, RejectedError, TimeoutError } from '../session/index.js';
import type { Clock } from '../clock/index.js';
import { DEFAULT_SEGMENT_SIZE, deflateRawSegments } from './compression.js';
import { toServiceClientError } from './errors.js';
import type { ServiceClient } from './service-client.js';
import { DEFAULT_SPEED_WINDOW_MS, Speedometer } from './speedometer.js';

export const DEFAULT_CHUNK_SIZE = 4096;
export const DEFAULT_WINDOW = 8;
/** Times one chunk is sent again by the sender after the session's own retries gave up. */
export const DEFAULT_MAX_RESENDS = 3;
/** flash_end verifies hash and signature of the whole slot: far slower than one chunk. */
export const DEFAULT_VERIFY_TIMEOUT_MS = 15_000;
export const DEFAULT_PAUSE_POLL_MS = 1000;
/** flash_status checks in a row that show neither a pause nor progress before giving up. */
const MAX_QUIET_CHECKS = 2;

/** Wait on the injected clock; an abort ends the wait early. */
function wait(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface FlashProgress {
  /** Image bytes handed to the line at least once (resent chunks are not counted twice). */
  bytesSent: number;
  /** Bytes the module reports written for good: a resume starts from here. Counts transfer bytes. */
  bytesCommitted: number;
  total: number;
  /** bytesCommitted over total, 0-100. */
  percent: number;
  /** Committed bytes per second over the last few seconds. */
  bytesPerSecond: number;
  /** Undefined while the speed is not known yet. */
  etaSeconds: number | undefined;
  /** Set while the module has paused writing (supply sag); it resumes by itself. */
  paused?: { reason: string; supplyMillivolts: number } | undefined;
}

export interface FlashOptions {
  /** Continue an interrupted transfer of the same image from the module's committed offset. */
  resume?: boolean;
  /** Abort to cancel: the module gets CANCEL for every chunk in flight and stays resumable. */
  signal?: AbortSignal;
  onProgress?: (progress: FlashProgress) => void;
  /** The host's preference; the module may lower it. */
  chunkSize?: number;
  /** Chunks in flight, the host's preference; the module may lower it. */
  window?: number;
  maxResends?: number;
  /** How often to ask flash_status while the module is paused or quiet. */
  pausePollMs?: number;
  verifyTimeoutMs?: number;
  /**
   * 'deflate' sends the image as independent raw-deflate segments the module inflates one by one
   * (falls back to 'none' when the module cannot). The committed offset counts transfer bytes; a
   * resume may use another setting, the module maps its written image bytes to the new transfer.
   */
  compression?: 'none' | 'deflate';
  /** Image bytes per deflate segment (PROTOCOL.md section 11); default DEFAULT_SEGMENT_SIZE. */
  segmentSize?: number;
  /** Send flash_activate after a verified flash_end (default true). */
  activate?: boolean;
  speedWindowMs?: number;
}

export interface FlashStats {
  /** flash_data requests started by the sender (the session's own repeats not included). */
  chunksSent: number;
  /** Of those, chunks the sender sent again after a timeout. */
  chunksResent: number;
}

export interface FlashResult {
  begin: FlashBeginResponse;
  /** What was actually sent: 'none' when the module could not inflate. */
  compression: 'none' | 'deflate';
  /** Bytes on the line (the compressed size with deflate). */
  transferSize: number;
  /** Image bytes per deflate segment; undefined without compression. */
  segmentSize: number | undefined;
  /** Where this transfer started: 0, or the committed offset of an interrupted one. */
  startOffset: number;
  end: FlashEndResponse;
  activate: FlashActivateResponse | undefined;
  stats: FlashStats;
}

export class FlashSender {
  readonly #client: ServiceClient;
  /** Offsets of every flash_data the sender started, in order (for tests and diagnostics). */
  readonly sentOffsets: number[] = [];

  constructor(client: ServiceClient) {
    this.#client = client;
  }

  async flash(image: Uint8Array, options: FlashOptions = {}): Promise<FlashResult> {
    if (image.length === 0) throw new RangeError('The firmware image is empty');
    const { signal } = options;
    const { begin, transfer, compression, segmentSize } = await this.#begin(image, options);
    const total = transfer.length;
    const startOffset = Math.min(begin.committedOffset, total);
    const stats = await this.#stream(transfer, begin, startOffset, compression, options);
    const end = await this.#step(
      'flashEnd',
      {},
      {
        timeoutMs: options.verifyTimeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      },
    );
    const activate =
      (options.activate ?? true)
        ? await this.#step('flashActivate', {}, signal ? { signal } : {})
        : undefined;
    return {
      begin,
      compression,
      transferSize: total,
      segmentSize,
      startOffset,
      end,
      activate,
      stats,
    };
  }

  /**
   * flash_begin, compressed when asked. A module that cannot inflate answers UNSUPPORTED, which
   * changed nothing on it, so the same image is announced again uncompressed.
   */
  async #begin(image: Uint8Array, options: FlashOptions) {
    const imageSha256 = sha256(image);
    const announce = (
      transfer: Uint8Array,
      compression: Compression,
      segments?: { segmentSize: number; segmentTransferSizes: number[] },
    ) =>
      this.#client.request(
        'flashBegin',
        {
          imageSize: image.length,
          imageSha256,
          compression,
          transferSize: transfer.length,
          chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
          window: options.window ?? DEFAULT_WINDOW,
          resume: options.resume ?? false,
          ...segments,
        },
        options.signal ? { signal: options.signal } : {},
      );
    try {
      if (options.compression === 'deflate') {
        const { transfer, segmentSize, segmentTransferSizes } = await deflateRawSegments(
          image,
          options.segmentSize ?? DEFAULT_SEGMENT_SIZE,
        );
        try {
          const begin = await announce(transfer, Compression.DEFLATE, {
            segmentSize,
            segmentTransferSizes,
          });
          return { begin, transfer, compression: 'deflate' as const, segmentSize };
        } catch (error) {
          if (!(error instanceof RejectedError && error.code === ErrorCode.UNSUPPORTED))
            throw error;
        }
      }
      const begin = await announce(image, Compression.NONE);
      return { begin, transfer: image, compression: 'none' as const, segmentSize: undefined };
    } catch (error) {
      throw toServiceClientError(error, 'flashBegin', true);
    }
  }

  /** Send every chunk from startOffset; resolves once each one is acknowledged. */
  async #stream(
    image: Uint8Array,
    begin: FlashBeginResponse,
    startOffset: number,
    compression: 'none' | 'deflate',
    options: FlashOptions,
  ): Promise<FlashStats> {
    const { signal } = options;
    const clock = this.#client.clock;
    const total = image.length;
    const chunkSize = Math.max(1, begin.chunkSize || (options.chunkSize ?? DEFAULT_CHUNK_SIZE));
    const window = Math.max(1, begin.window || (options.window ?? DEFAULT_WINDOW));
    const maxResends = options.maxResends ?? DEFAULT_MAX_RESENDS;
    const pollMs = options.pausePollMs ?? DEFAULT_PAUSE_POLL_MS;
    const speed = new Speedometer(options.speedWindowMs ?? DEFAULT_SPEED_WINDOW_MS);
    const stats: FlashStats = { chunksSent: 0, chunksResent: 0 };

    const inFlight = new Map<number, Promise<void>>();
    const acknowledged = new Set<number>();
    const resendQueue: number[] = [];
    const resends = new Map<number, number>();
    let next = startOffset;
    // Lowest offset not yet acknowledged: the window slides from here, so a lost chunk holds it
    // (the module refuses data beyond what it received in order plus the window).
    let lowest = startOffset;
    let bytesSent = startOffset;
    let committed = startOffset;
    let failure: unknown;
    /** Chunks that timed out maxResends times: held until the module says why it went quiet. */
    let exhausted: number[] = [];
    let quietChecks = 0;
    let lastTimeout: TimeoutError | undefined;

    const report = (paused?: FlashProgress['paused']) => {
      speed.sample(clock.now(), committed);
      const bytesPerSecond = speed.bytesPerSecond;
      options.onProgress?.({
        bytesSent,
        bytesCommitted: committed,
        total,
        percent: (committed / total) * 100,
        bytesPerSecond,
        etaSeconds: bytesPerSecond > 0 ? (total - committed) / bytesPerSecond : undefined,
        paused,
      });
    };

    const send = (offset: number, again: boolean) => {
      const data = image.subarray(offset, Math.min(offset + chunkSize, total));
      stats.chunksSent += 1;
      if (again) stats.chunksResent += 1;
      else bytesSent += data.length;
      this.sentOffsets.push(offset);
      const request = this.#client
        .request('flashData', { offset, data }, signal ? { signal } : {})
        .then(
          (response) => {
            acknowledged.add(offset);
            while (acknowledged.delete(lowest)) lowest = Math.min(lowest + chunkSize, total);
            committed = Math.max(committed, Math.min(response.committedOffset, total));
            report();
          },
          (error: unknown) => {
            // The session already repeated this idempotent chunk; send it once more on its own
            // (the rest of the window keeps going) until the limit says the link is really gone.
            const count = (resends.get(offset) ?? 0) + 1;
            if (!(error instanceof TimeoutError) || signal?.aborted) failure ??= error;
            else if (count > maxResends) {
              exhausted.push(offset);
              lastTimeout = error;
            } else {
              resends.set(offset, count);
              resendQueue.push(offset);
            }
          },
        )
        .finally(() => inFlight.delete(offset));
      inFlight.set(offset, request);
    };

    report();
    for (;;) {
      // The module refuses data beyond what it received in order plus the window (section 11).
      // Everything below `lowest` was acknowledged, so it has been received. A deflate transfer
      // commits only whole segments, so its committed offset may lag by a segment: waiting on it
      // would stall a segment larger than the window. Uncompressed, the committed offset is the
      // received one (and the only base modules before segments knew), so it stays in.
      const base = compression === 'deflate' ? lowest : Math.min(lowest, committed);
      while (failure === undefined && inFlight.size < window) {
        const again = resendQueue.shift();
        if (again !== undefined) send(again, true);
        else if (next < total && next < base + window * chunkSize) {
          send(next, false);
          next = Math.min(next + chunkSize, total);
        } else break;
      }
      if (inFlight.size > 0) {
        await Promise.race(inFlight.values());
        continue;
      }
      if (failure !== undefined) break;
      if (lowest >= total && committed >= total && exhausted.length === 0) break;
      // Nothing in flight and work left: the module went quiet or stopped committing. A sagging
      // supply pauses it (section 11, rule 3) and it resumes by itself, so wait rather than fail.
      const before = committed;
      const status = await this.#client
        .request('flashStatus', {}, signal ? { signal } : {})
        .catch((error: unknown) => void (failure = error));
      if (!status) break;
      committed = Math.max(committed, Math.min(status.committedOffset, total));
      const paused = status.state === FlashState.PAUSED;
      if (paused) report({ reason: status.reason, supplyMillivolts: status.supplyMillivolts });
      if (paused || committed > before) quietChecks = 0;
      else if (exhausted.length > 0) {
        // not paused, nothing written since: the module is gone, not just slow
        failure = lastTimeout;
        break;
      } else if (++quietChecks > MAX_QUIET_CHECKS) {
        // every chunk was acknowledged: let flash_end tell whether the image is complete
        if (lowest < total) failure = new TimeoutError('flashData', quietChecks, pollMs);
        break;
      }
      if (paused || exhausted.length === 0) await wait(clock, pollMs, signal);
      if (signal?.aborted) {
        failure = new CancelledError('flashData');
        break;
      }
      resendQueue.push(...exhausted);
      exhausted = [];
      resends.clear();
    }
    if (failure !== undefined) throw toServiceClientError(failure, 'flashData', true);
    return stats;
  }

  async #step<K extends RequestKind>(
    kind: K,
    value: RequestInitOf<K>,
    options: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<ResponseOf<K>> {
    try {
      return await this.#client.request(kind, value, options);
    } catch (error) {
      throw toServiceClientError(error, kind, true);
    }
  }
}
