import { crc32c } from '@aws-crypto/crc32c';
import type { Frame, FrameSizeOptions } from './frame.js';
import {
  FRAME_CRC_SIZE,
  FRAME_HEADER_SIZE,
  FRAME_OVERHEAD,
  readUint32LE,
  resolveMaxFrameSize,
} from './frame.js';

/** Why the decoder dropped a frame. */
export type FrameDropReason = 'crc-mismatch' | 'cobs-invalid' | 'too-short' | 'too-long';

export interface FrameDecoderStats {
  /** Frames returned by `push`. */
  framesDecoded: number;
  /** Frames dropped, for any reason (the sum of `droppedBy`). */
  framesDropped: number;
  droppedBy: Record<FrameDropReason, number>;
  /**
   * Received non-delimiter bytes that did not end up in a decoded frame: bytes of dropped frames,
   * bytes skipped while resynchronising after a too-long frame, and partial frames abandoned by
   * `reset()`. Delimiters (0x00) are never counted.
   */
  bytesDiscarded: number;
}

// Decoder states. Between frames the decoder is in sync: the next non-zero byte is a frame's first
// COBS code byte. The start of the stream counts as a delimiter, so a frame sent without a leading
// 0x00 still decodes.
const BETWEEN_FRAMES = 0;
const IN_FRAME = 1;
/** After a too-long frame: skip everything up to the next delimiter. */
const RESYNCING = 2;
type DecoderState = typeof BETWEEN_FRAMES | typeof IN_FRAME | typeof RESYNCING;

/**
 * Streaming decoder for service-link frames (see `encodeFrame`). It COBS-decodes incrementally
 * into one preallocated buffer of maxFrameSize, so memory stays bounded whatever the line sends.
 * It never throws on input: damaged frames are dropped and counted in `stats`, and decoding
 * resumes at the next 0x00 delimiter.
 */
export class FrameDecoder {
  readonly maxFrameSize: number;

  private readonly buffer: Uint8Array;
  private state: DecoderState = BETWEEN_FRAMES;
  /** Decoded bytes of the current frame in `buffer`. */
  private length = 0;
  /** Encoded (non-delimiter) bytes received for the current frame or resync run. */
  private rawLength = 0;
  /** Data bytes still to come in the current COBS block. */
  private blockRemaining = 0;
  /** Whether the current COBS block ends in an implied zero (code < 0xFF), unless last. */
  private blockEndsInZero = false;

  private framesDecoded = 0;
  private bytesDiscarded = 0;
  private readonly droppedBy: Record<FrameDropReason, number> = {
    'crc-mismatch': 0,
    'cobs-invalid': 0,
    'too-short': 0,
    'too-long': 0,
  };

  /** Throws RangeError if maxFrameSize is not an integer >= FRAME_OVERHEAD (7). */
  constructor(options?: FrameSizeOptions) {
    this.maxFrameSize = resolveMaxFrameSize(options);
    this.buffer = new Uint8Array(this.maxFrameSize);
  }

  /**
   * A snapshot of the counters, taken when read: later pushes do not change an object already
   * returned, and changing it does not affect the decoder. Counters survive `reset()`.
   */
  get stats(): FrameDecoderStats {
    const droppedBy = { ...this.droppedBy };
    return {
      framesDecoded: this.framesDecoded,
      framesDropped:
        droppedBy['crc-mismatch'] +
        droppedBy['cobs-invalid'] +
        droppedBy['too-short'] +
        droppedBy['too-long'],
      droppedBy,
      bytesDiscarded: this.bytesDiscarded,
    };
  }

  /**
   * Drops any partial frame (e.g. after a baud change, when the bytes in flight are garbage) and
   * treats the next byte as the start of a frame. Abandoned bytes count as discarded, not as a
   * dropped frame. Counters are kept.
   */
  reset(): void {
    this.bytesDiscarded += this.rawLength;
    this.state = BETWEEN_FRAMES;
    this.length = 0;
    this.rawLength = 0;
    this.blockRemaining = 0;
    this.blockEndsInZero = false;
  }

  /**
   * Feeds received bytes, split at any boundary, and returns the frames this chunk completed, in
   * order. Never throws on any input. Returned payloads are fresh copies the caller may keep.
   */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    const end = chunk.length;
    const buffer = this.buffer;
    const max = this.maxFrameSize;
    let i = 0;
    // Index of the next 0x00 at or after i (or `end`); found with native indexOf, once per
    // delimiter, so data runs are copied without inspecting each byte in JavaScript.
    let nextZero = -1;

    while (i < end) {
      if (nextZero < i) {
        nextZero = chunk.indexOf(0, i);
        if (nextZero === -1) nextZero = end;
      }

      if (this.state === RESYNCING) {
        this.bytesDiscarded += nextZero - i;
        this.rawLength = 0;
        if (nextZero === end) return frames;
        this.state = BETWEEN_FRAMES;
        i = nextZero + 1;
        continue;
      }

      if (i === nextZero) {
        i++;
        if (this.state === IN_FRAME) this.endFrame(frames);
        // BETWEEN_FRAMES: an empty frame (two delimiters in a row) is skipped silently.
        continue;
      }

      if (this.state === BETWEEN_FRAMES) {
        this.state = IN_FRAME;
        this.length = 0;
        this.rawLength = 1;
        this.startBlock(chunk[i++] as number);
        continue;
      }

      // IN_FRAME, chunk[i] is non-zero.
      if (this.blockRemaining === 0) {
        // chunk[i] is the next block's code byte; the previous block's implied zero is now real.
        if (this.blockEndsInZero) {
          if (this.length === max) {
            this.dropTooLong();
            continue;
          }
          buffer[this.length++] = 0;
        }
        this.rawLength++;
        this.startBlock(chunk[i++] as number);
        continue;
      }

      // Copy a run of data bytes: up to the block's end, the next delimiter, or the size limit.
      const room = max - this.length;
      if (room === 0) {
        this.dropTooLong();
        continue;
      }
      const runEnd = Math.min(nextZero, i + this.blockRemaining, i + room);
      const run = runEnd - i;
      buffer.set(chunk.subarray(i, runEnd), this.length);
      this.length += run;
      this.rawLength += run;
      this.blockRemaining -= run;
      i = runEnd;
    }
    return frames;
  }

  private startBlock(code: number): void {
    this.blockRemaining = code - 1;
    this.blockEndsInZero = code !== 0xff;
  }

  /** A delimiter arrived in a frame: check it and emit or drop it. */
  private endFrame(frames: Frame[]): void {
    const length = this.length;
    const buffer = this.buffer;
    this.state = BETWEEN_FRAMES;
    // The last block's implied zero is the delimiter itself, so it is not added.
    if (this.blockRemaining > 0) {
      this.drop('cobs-invalid'); // the code byte pointed past the delimiter
    } else if (length < FRAME_OVERHEAD) {
      this.drop('too-short');
    } else {
      const crcOffset = length - FRAME_CRC_SIZE;
      if (crc32c(buffer.subarray(0, crcOffset)) !== readUint32LE(buffer, crcOffset)) {
        this.drop('crc-mismatch');
      } else {
        this.framesDecoded++;
        frames.push({
          type: buffer[0] as number,
          seq: (buffer[1] as number) | ((buffer[2] as number) << 8),
          // slice copies: callers keep payloads while the buffer is reused for the next frame.
          payload: buffer.slice(FRAME_HEADER_SIZE, crcOffset),
        });
      }
    }
    this.length = 0;
    this.rawLength = 0;
    this.blockRemaining = 0;
  }

  private drop(reason: FrameDropReason): void {
    this.droppedBy[reason]++;
    this.bytesDiscarded += this.rawLength;
  }

  /** The frame grew past maxFrameSize: drop it now and skip to the next delimiter. */
  private dropTooLong(): void {
    this.drop('too-long');
    this.state = RESYNCING;
    this.length = 0;
    this.rawLength = 0;
    this.blockRemaining = 0;
  }
}
