/**
 * The crash-safe queue of reports that must reach the cloud (events and command results): one
 * record per signed report, named by a rising sequence number, so a power cut loses nothing that
 * was queued and the order survives a restart. Reports leave in sequence order and are deleted
 * only once the broker acknowledged them (QoS 1), so a report may go out twice (the cloud refuses
 * the second as a replay) but never out of order or not at all.
 *
 * Bounded: when full, the oldest report is dropped and counted in one `lost` record; the count
 * goes out (as a ReportsDropped event) before the oldest report still queued.
 *
 * Record layout: `u8 topic (1 events, 2 command-results) | u64 BE time ms | signed payload`.
 */
import type { RecordStore } from '../storage/index.js';
import { StorageError } from '../storage/index.js';

export type OutboxTopic = 'events' | 'command-results';

export interface OutboxEntry {
  seq: number;
  topic: OutboxTopic;
  /** Module time the report was signed (when it happened). */
  timeMs: number;
  /** The encoded, signed ModuleEnvelope. */
  payload: Uint8Array;
}

/** Reports dropped unsent because the queue was full, not yet reported to the cloud. */
export interface DroppedReports {
  count: number;
  firstDroppedMs: number;
  lastDroppedMs: number;
  /** Every report up to this sequence number was dropped or sent (clean-up after a cut). */
  throughSeq: number;
}

const ENTRY_PREFIX = 'link-out-';
const ENTRY_NAME = /^link-out-(\d{12})$/;
const LOST_RECORD = 'link-out-lost';
const TOPIC_CODES: Record<OutboxTopic, number> = { events: 1, 'command-results': 2 };
const HEADER = 9;

const entryName = (seq: number): string => ENTRY_PREFIX + String(seq).padStart(12, '0');

const isDropped = (value: unknown): value is DroppedReports => {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['count', 'firstDroppedMs', 'lastDroppedMs', 'throughSeq'].every((key) =>
    Number.isSafeInteger(record[key]),
  );
};

function encodeEntry(entry: OutboxEntry): Uint8Array {
  const bytes = new Uint8Array(HEADER + entry.payload.length);
  bytes[0] = TOPIC_CODES[entry.topic];
  new DataView(bytes.buffer).setBigUint64(1, BigInt(Math.max(0, Math.floor(entry.timeMs))));
  bytes.set(entry.payload, HEADER);
  return bytes;
}

function decodeEntry(seq: number, bytes: Uint8Array): OutboxEntry | undefined {
  if (bytes.length <= HEADER) return undefined;
  const topic = bytes[0] === 1 ? 'events' : bytes[0] === 2 ? 'command-results' : undefined;
  if (!topic) return undefined;
  const timeMs = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(1));
  return { seq, topic, timeMs, payload: bytes.slice(HEADER) };
}

export class Outbox {
  readonly capacity: number;
  readonly #records: RecordStore;
  readonly #entries: OutboxEntry[] = [];
  #dropped: DroppedReports | undefined;
  #nextSeq = 1;
  /** Mutations one at a time, so memory and records move together. */
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(records: RecordStore, capacity: number) {
    this.#records = records;
    this.capacity = capacity;
  }

  /**
   * Loads the queue. A damaged record (bit rot: records are never torn) is deleted and counted as
   * dropped, with `nowMs` as its time.
   */
  static async open(
    records: RecordStore,
    options: { capacity?: number; nowMs: number },
  ): Promise<Outbox> {
    const capacity = options.capacity ?? 1000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity is >= 1');
    const outbox = new Outbox(records, capacity);
    let dropped: DroppedReports | undefined;
    try {
      dropped = await records.getJson(LOST_RECORD, isDropped);
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      dropped = undefined;
    }
    let changed = false;
    for (const name of await records.list()) {
      const match = ENTRY_NAME.exec(name);
      if (!match) continue;
      const seq = Number(match[1]);
      outbox.#nextSeq = Math.max(outbox.#nextSeq, seq + 1);
      // A cut between counting a drop and deleting the report leaves the report: it is gone.
      if (dropped && seq <= dropped.throughSeq) {
        await records.delete(name);
        continue;
      }
      let entry: OutboxEntry | undefined;
      try {
        const bytes = await records.get(name);
        entry = bytes && decodeEntry(seq, bytes);
      } catch (error) {
        if (!(error instanceof StorageError)) throw error;
      }
      if (entry) {
        outbox.#entries.push(entry);
        continue;
      }
      await records.delete(name);
      dropped = countDrop(dropped, options.nowMs, seq);
      changed = true;
    }
    outbox.#entries.sort((a, b) => a.seq - b.seq);
    if (dropped) outbox.#nextSeq = Math.max(outbox.#nextSeq, dropped.throughSeq + 1);
    outbox.#dropped = dropped && dropped.count > 0 ? dropped : undefined;
    if (changed && dropped) await records.putJson(LOST_RECORD, dropped, isDropped);
    return outbox;
  }

  /** Reports waiting, oldest first. */
  get entries(): readonly OutboxEntry[] {
    return this.#entries;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Dropped reports the cloud has not been told about. */
  get dropped(): DroppedReports | undefined {
    return this.#dropped;
  }

  /** Queues a signed report durably; resolves once it survives a power cut. */
  add(topic: OutboxTopic, payload: Uint8Array, timeMs: number): Promise<OutboxEntry> {
    return this.#run(async () => {
      while (this.#entries.length >= this.capacity) await this.#dropOldest();
      const entry: OutboxEntry = { seq: this.#nextSeq++, topic, timeMs, payload };
      await this.#records.put(entryName(entry.seq), encodeEntry(entry));
      this.#entries.push(entry);
      return entry;
    });
  }

  /** The broker acknowledged this report: forget it. */
  remove(seq: number): Promise<void> {
    return this.#run(async () => {
      const index = this.#entries.findIndex((entry) => entry.seq === seq);
      if (index < 0) return;
      await this.#records.delete(entryName(seq));
      this.#entries.splice(index, 1);
    });
  }

  /** The cloud was told about `count` dropped reports (more may have been dropped since). */
  reportedDropped(count: number): Promise<void> {
    return this.#run(async () => {
      const dropped = this.#dropped;
      if (!dropped) return;
      const left = { ...dropped, count: Math.max(0, dropped.count - count) };
      // The record stays (count 0) so `throughSeq` keeps guarding against a cut mid-drop.
      await this.#records.putJson(LOST_RECORD, left, isDropped);
      this.#dropped = left.count > 0 ? left : undefined;
    });
  }

  async #dropOldest(): Promise<void> {
    const oldest = this.#entries[0];
    if (!oldest) return;
    // Count first, then delete: a cut in between is cleaned up at open (throughSeq).
    const dropped = countDrop(this.#dropped, oldest.timeMs, oldest.seq);
    await this.#records.putJson(LOST_RECORD, dropped, isDropped);
    this.#dropped = dropped;
    await this.#records.delete(entryName(oldest.seq));
    this.#entries.shift();
  }

  #run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(task);
    this.#chain = result.catch(() => undefined);
    return result;
  }
}

function countDrop(dropped: DroppedReports | undefined, timeMs: number, seq: number) {
  const live = dropped && dropped.count > 0 ? dropped : undefined;
  return {
    count: (live?.count ?? 0) + 1,
    firstDroppedMs: live?.firstDroppedMs ?? timeMs,
    lastDroppedMs: timeMs,
    throughSeq: Math.max(dropped?.throughSeq ?? 0, seq),
  };
}
