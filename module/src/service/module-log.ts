/**
 * The module's log: a bounded ring of entries with sequence numbers that rise by one per entry
 * for the module's lifetime (diagnostics.proto `LogEntry`), read over the service link with
 * `log_read` and wiped by a factory reset.
 *
 * Stored, not RAM only: the proto promises sequence numbers that survive reboots and a factory
 * reset that wipes "logs", and what a mechanic needs most is what happened before the module was
 * power-cycled or crashed. Flash wear and write latency rule out one durable write per line, so:
 *
 * - The ring is LOG_SEGMENTS records (`log-0` ... `log-7`) of LOG_SEGMENT_ENTRIES entries each;
 *   entry n lives in block floor((n - 1) / LOG_SEGMENT_ENTRIES), stored in record
 *   `log-<block mod LOG_SEGMENTS>`. A new block replaces the oldest one: memory and flash stay
 *   bounded (at most 512 entries of at most MAX_MESSAGE_LENGTH characters).
 * - Entries are kept in RAM and written in batches: the blocks with new entries are rewritten
 *   (one atomic record put each) FLUSH_DELAY_MS after the first unwritten entry, or at once for a
 *   warning, an error or a `log_read` — but never more often than once per FLUSH_DELAY_MS, so no
 *   host, however fast it sends refused requests, can wear the flash out through the log.
 * - `log_read` answers only entries already written. A power cut loses at most the last second
 *   of lines, and never one a host has seen, so a sequence number a host knows is never reused
 *   for another entry after the restart. A host sees a new line within about a second.
 */
import { LogLevel } from '@mini-sharing/shared-protocol/messages';
import { systemClock, type Clock, type TimerHandle } from '@mini-sharing/shared-protocol/clock';
import { clipText, type RequestHandlers } from '@mini-sharing/shared-protocol/session';
import type { RecordStore } from '../storage/index.js';

export const LOG_SEGMENTS = 8;
export const LOG_SEGMENT_ENTRIES = 64;
export const LOG_CAPACITY = LOG_SEGMENTS * LOG_SEGMENT_ENTRIES;
export const MAX_MESSAGE_LENGTH = 300;
export const MAX_COMPONENT_LENGTH = 32;
export const FLUSH_DELAY_MS = 1000;
/** `log_read` with max_entries 0 gets this many; more than MAX_READ_ENTRIES are never sent. */
export const DEFAULT_READ_ENTRIES = 64;
export const MAX_READ_ENTRIES = 256;
/** Bytes of entries per answer, well inside the 16 KiB frame with envelope and COBS overhead. */
const READ_BUDGET_BYTES = 12_000;

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

export interface ModuleLogEntry {
  sequence: number;
  /** Module clock, ms since the Unix epoch. */
  timeMs: number;
  level: LogLevelName;
  component: string;
  message: string;
}

const LEVELS: Record<LogLevelName, LogLevel> = {
  debug: LogLevel.DEBUG,
  info: LogLevel.INFO,
  warn: LogLevel.WARN,
  error: LogLevel.ERROR,
};

/** A segment as stored: `[sequence, timeMs, level, component, message]` per entry, compactly. */
type StoredEntry = [number, number, LogLevelName, string, string];
interface SegmentRecord {
  block: number;
  entries: StoredEntry[];
}

const segmentName = (index: number) => `log-${index}`;
const blockOf = (sequence: number) => Math.floor((sequence - 1) / LOG_SEGMENT_ENTRIES);
const isLevel = (value: unknown): value is LogLevelName =>
  typeof value === 'string' && Object.hasOwn(LEVELS, value);
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function isSegmentRecord(value: unknown): value is SegmentRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (!isCount(record.block) || !Array.isArray(record.entries)) return false;
  const block = record.block;
  return (
    record.entries.length <= LOG_SEGMENT_ENTRIES &&
    record.entries.every(
      (entry: unknown) =>
        Array.isArray(entry) &&
        entry.length === 5 &&
        isCount(entry[0]) &&
        entry[0] >= 1 &&
        blockOf(entry[0]) === block &&
        isCount(entry[1]) &&
        isLevel(entry[2]) &&
        typeof entry[3] === 'string' &&
        entry[3].length <= MAX_COMPONENT_LENGTH &&
        typeof entry[4] === 'string' &&
        entry[4].length <= MAX_MESSAGE_LENGTH,
    )
  );
}

export interface ModuleLogOptions {
  /** The module clock, for entry times. */
  now: () => number;
  /** Real time and timers for the batched writes; default the process's. */
  timers?: Clock;
  flushDelayMs?: number;
}

export interface LogPage {
  entries: ModuleLogEntry[];
  /** Where the next read starts; `fromSequence` itself when nothing newer exists. */
  nextSequence: number;
}

export class ModuleLog {
  readonly #records: RecordStore;
  readonly #now: () => number;
  readonly #timers: Clock;
  readonly #flushDelayMs: number;
  /** Ascending by sequence, contiguous except across a power cut. */
  #entries: ModuleLogEntry[];
  #next: number;
  readonly #dirty = new Set<number>();
  /** Every entry up to this sequence is written (what `log_read` may show). */
  #writtenThrough: number;
  /** When the last batch write started (real time), for the write rate limit. */
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined;
  #timerDue = 0;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Batched writes that failed (storage trouble); the entries stay in RAM and are retried. */
  writeFailures = 0;

  private constructor(records: RecordStore, options: ModuleLogOptions, entries: ModuleLogEntry[]) {
    this.#records = records;
    this.#now = options.now;
    this.#timers = options.timers ?? systemClock;
    this.#flushDelayMs = options.flushDelayMs ?? FLUSH_DELAY_MS;
    this.#entries = entries;
    this.#next = (entries.at(-1)?.sequence ?? 0) + 1;
    this.#writtenThrough = this.#next - 1;
  }

  /** Reads the stored ring. A damaged segment is skipped (and overwritten when its turn comes). */
  static async open(records: RecordStore, options: ModuleLogOptions): Promise<ModuleLog> {
    const entries: ModuleLogEntry[] = [];
    const damaged: string[] = [];
    for (let index = 0; index < LOG_SEGMENTS; index++) {
      const segment = await records
        .getJson(segmentName(index), isSegmentRecord)
        .catch((error: unknown) => {
          damaged.push(`${segmentName(index)}: ${error instanceof Error ? error.message : ''}`);
          return undefined;
        });
      if (!segment || segment.block % LOG_SEGMENTS !== index) continue;
      for (const [sequence, timeMs, level, component, message] of segment.entries) {
        entries.push({ sequence, timeMs, level, component, message });
      }
    }
    entries.sort((a, b) => a.sequence - b.sequence);
    const log = new ModuleLog(records, options, ModuleLog.#newestBlocks(entries));
    for (const problem of damaged) log.append('warn', 'log', `log segment unreadable: ${problem}`);
    return log;
  }

  /** Only the LOG_SEGMENTS newest blocks count (older ones are stale leftovers). */
  static #newestBlocks(entries: ModuleLogEntry[]): ModuleLogEntry[] {
    const last = entries.at(-1);
    if (!last) return entries;
    const oldestBlock = blockOf(last.sequence) - LOG_SEGMENTS + 1;
    return entries.filter((entry) => blockOf(entry.sequence) >= oldestBlock);
  }

  get entryCount(): number {
    return this.#entries.length;
  }

  /** The sequence number the next entry gets. */
  get nextSequence(): number {
    return this.#next;
  }

  /** Adds an entry (clipped to the length limits); it is written in the next batch. */
  append(level: LogLevelName, component: string, message: string): ModuleLogEntry {
    const entry: ModuleLogEntry = {
      sequence: this.#next++,
      timeMs: Math.max(0, Math.round(this.#now())),
      level,
      component: clipText(component, MAX_COMPONENT_LENGTH),
      message: clipText(message, MAX_MESSAGE_LENGTH),
    };
    const block = blockOf(entry.sequence);
    const oldestBlock = block - LOG_SEGMENTS + 1;
    let drop = 0;
    while (drop < this.#entries.length && blockOf(this.#entries[drop]!.sequence) < oldestBlock) {
      drop++;
    }
    if (drop > 0) this.#entries.splice(0, drop);
    this.#entries.push(entry);
    this.#dirty.add(block);
    this.#schedule(level === 'warn' || level === 'error' ? 0 : this.#flushDelayMs);
    return entry;
  }

  /**
   * Entries from `fromSequence` on (0: from the oldest kept), in order. When the first entry's
   * sequence is above `fromSequence`, the ones between were dropped (overwritten by newer ones, or
   * lost in a power cut before they were written).
   */
  read(
    fromSequence: number,
    maxEntries: number,
    through: number = Number.MAX_SAFE_INTEGER,
  ): LogPage {
    const limit = Math.min(maxEntries === 0 ? DEFAULT_READ_ENTRIES : maxEntries, MAX_READ_ENTRIES);
    const entries: ModuleLogEntry[] = [];
    let bytes = 0;
    for (const entry of this.#entries) {
      if (entry.sequence < fromSequence) continue;
      if (entry.sequence > through) break;
      const size = 32 + Buffer.byteLength(entry.component) + Buffer.byteLength(entry.message);
      if (entries.length >= limit || (entries.length > 0 && bytes + size > READ_BUDGET_BYTES)) {
        break;
      }
      entries.push(entry);
      bytes += size;
    }
    const last = entries.at(-1);
    return { entries, nextSequence: last ? last.sequence + 1 : fromSequence };
  }

  /**
   * Writes every block with unwritten entries now, whatever the rate limit (shutdown, tests);
   * resolves once they are durable.
   */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#timers.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // Counted from the request, so writes queued behind this one wait their turn too.
    this.#lastWriteAt = this.#timers.now();
    const run = this.#writing.then(() => this.#writeDirty());
    this.#writing = run.catch(() => {});
    return run;
  }

  /**
   * Factory reset: forgets every entry, then records `note` as the first entry of the new log, so
   * the sequence keeps rising (a host never sees a number twice). Durable when it resolves.
   */
  async clear(component: string, note: string): Promise<void> {
    await this.#writing;
    this.#entries = [];
    this.#dirty.clear();
    const entry = this.append('info', component, note);
    const keep = blockOf(entry.sequence) % LOG_SEGMENTS;
    const run = this.#writing.then(async () => {
      // Old segments go first: a power cut in between leaves less of the old log, never more.
      for (let index = 0; index < LOG_SEGMENTS; index++) {
        if (index !== keep) await this.#records.delete(segmentName(index));
      }
      await this.#writeDirty();
    });
    this.#writing = run.catch(() => {});
    await run;
  }

  /** Writes what is pending and stops the batch timer; appends after this stay in RAM. */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    this.#closed = true;
  }

  /** `log_read`. */
  readonly handlers: Required<Pick<RequestHandlers, 'logRead'>> = {
    logRead: async (request) => {
      // A host sees only written entries (see the file comment). Write now if the rate limit
      // allows; storage trouble must not hide the log that may explain it, so answer regardless.
      if (this.#dirty.size > 0) {
        if (this.#writeAllowed()) await this.flush().catch(() => {});
        else this.#schedule(0);
      }
      const from =
        request.fromSequence > BigInt(Number.MAX_SAFE_INTEGER)
          ? Number.MAX_SAFE_INTEGER
          : Number(request.fromSequence);
      const page = this.read(from, request.maxEntries, this.#writtenThrough);
      return {
        entries: page.entries.map((entry) => ({
          sequence: BigInt(entry.sequence),
          timeMs: BigInt(entry.timeMs),
          level: LEVELS[entry.level],
          component: entry.component,
          message: entry.message,
        })),
        nextSequence: BigInt(page.nextSequence),
      };
    },
  };

  #writeAllowed(): boolean {
    return this.#timers.now() - this.#lastWriteAt >= this.#flushDelayMs;
  }

  /** A batch write in `delayMs`, or when the rate limit next allows one if that is later. */
  #schedule(delayMs: number): void {
    if (this.#closed) return;
    const allowedIn = Math.max(0, this.#lastWriteAt + this.#flushDelayMs - this.#timers.now());
    const dueIn = Math.max(delayMs, allowedIn);
    if (dueIn === 0) {
      void this.flush().catch(() => {});
      return;
    }
    if (this.#timer !== undefined) {
      if (this.#timerDue <= this.#timers.now() + dueIn) return; // an earlier one will do
      this.#timers.clearTimeout(this.#timer);
    }
    this.#timerDue = this.#timers.now() + dueIn;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      void this.flush().catch(() => {});
    }, dueIn);
    // A pending batch must not keep a process alive that is otherwise done.
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  async #writeDirty(): Promise<void> {
    if (this.#closed || this.#dirty.size === 0) return;
    const through = this.#next - 1;
    const newest = blockOf(through);
    const blocks = [...this.#dirty].sort((a, b) => a - b);
    this.#dirty.clear();
    for (const block of blocks) {
      if (block <= newest - LOG_SEGMENTS) continue; // rotated out before it was ever written
      const entries = this.#entries
        .filter((entry) => blockOf(entry.sequence) === block)
        .map((e): StoredEntry => [e.sequence, e.timeMs, e.level, e.component, e.message]);
      try {
        await this.#records.putJson(
          segmentName(block % LOG_SEGMENTS),
          { block, entries },
          isSegmentRecord,
        );
      } catch (error) {
        this.writeFailures += 1;
        for (const pending of blocks.filter((b) => b >= block)) this.#dirty.add(pending);
        throw error;
      }
    }
    this.#writtenThrough = Math.max(this.#writtenThrough, through);
  }
}
