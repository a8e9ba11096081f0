/**
 * Splits a byte stream into newline-delimited JSON values. Never throws, whatever arrives: a bad
 * line becomes one error item and the stream carries on with the next line. Memory is bounded by
 * the line cap: an overlong line is dropped as it arrives, not buffered.
 */
import { MAX_LINE_BYTES } from './bus-protocol.js';

export type DecodedLine =
  | { ok: true; value: unknown }
  | { ok: false; code: 'line-too-long' | 'malformed-message'; message: string };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class LineDecoder {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Inside an overlong line: drop everything up to its newline. */
  #discarding = false;
  #droppedBytes = 0;
  // fatal: a line that is not UTF-8 is an error, not a string with U+FFFD in it.
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(readonly maxLineBytes: number = MAX_LINE_BYTES) {}

  /** Bytes thrown away so far in overlong lines. */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /** Bytes of an unfinished line held. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  push(chunk: Uint8Array): DecodedLine[] {
    const out: DecodedLine[] = [];
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (bytes.length > 0) {
      const newline = bytes.indexOf(NEWLINE);
      const piece = newline < 0 ? bytes : bytes.subarray(0, newline);
      if (this.#discarding) {
        this.#droppedBytes += piece.length;
      } else if (this.#pendingBytes + piece.length > this.maxLineBytes) {
        this.#droppedBytes += this.#pendingBytes + piece.length;
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#discarding = true;
        // Reported at once, not at the newline, so a sender that never ends the line hears it.
        out.push({
          ok: false,
          code: 'line-too-long',
          message: `line longer than ${this.maxLineBytes} bytes: dropped`,
        });
      } else if (piece.length > 0) {
        // Copied: the caller may reuse its chunk's memory after push returns.
        this.#pending.push(Buffer.from(piece));
        this.#pendingBytes += piece.length;
      }
      if (newline < 0) break;
      if (this.#discarding) {
        this.#discarding = false;
      } else {
        const line = this.#takeLine();
        if (line !== undefined) out.push(line);
      }
      bytes = bytes.subarray(newline + 1);
    }
    return out;
  }

  #takeLine(): DecodedLine | undefined {
    let line = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    if (line.at(-1) === CARRIAGE_RETURN) line = line.subarray(0, -1);
    // Blank lines are keep-alives or a stray CRLF, not messages.
    if (line.every((byte) => byte === 0x20 || byte === 0x09)) return undefined;
    let text: string;
    try {
      text = this.#utf8.decode(line);
    } catch {
      return { ok: false, code: 'malformed-message', message: 'line is not valid UTF-8' };
    }
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      return {
        ok: false,
        code: 'malformed-message',
        message: `line is not JSON: ${detail.slice(0, 200)}`,
      };
    }
  }
}
