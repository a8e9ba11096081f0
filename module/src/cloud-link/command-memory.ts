/**
 * What the module remembers about cloud envelopes, in one crash-safe record, so a command runs
 * at most once even across restarts and an older retained state never replaces a newer one:
 * - the ids of envelopes it accepted, each until its envelope expires (the same rule as
 *   shared-protocol's ReplayCache: when full of live ids it forgets the oldest-issued one and
 *   from then on refuses anything issued at or before that time);
 * - per state topic, the issue time of the last state it applied (PROTOCOL.md 16.6).
 * An id is stored before its command runs: a cut in between loses the command (the cloud gets no
 * result and re-sends with a new id) rather than running it twice.
 */
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import type { RecordStore } from '../storage/index.js';

export const COMMAND_MEMORY_RECORD = 'link-commands';

export type StateKind = 'revocation-list' | 'booking';

interface MemoryRecord {
  /** [id hex, issued at ms, expires at ms] */
  seen: Array<[string, number, number]>;
  /** Envelopes issued at or before this are refused (null: none yet). */
  floorMs: number | null;
  applied: Partial<Record<StateKind, number>>;
}

const isTime = (value: unknown): value is number => Number.isSafeInteger(value);

function isMemoryRecord(value: unknown): value is MemoryRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  const applied = record.applied as Record<string, unknown> | null;
  return (
    Array.isArray(record.seen) &&
    record.seen.every(
      (entry: unknown) =>
        Array.isArray(entry) &&
        entry.length === 3 &&
        typeof entry[0] === 'string' &&
        /^[0-9a-f]{32}$/.test(entry[0]) &&
        isTime(entry[1]) &&
        isTime(entry[2]),
    ) &&
    (record.floorMs === null || isTime(record.floorMs)) &&
    typeof applied === 'object' &&
    applied !== null &&
    Object.values(applied).every(isTime)
  );
}

export interface EnvelopeTimes {
  issuedAtMs: number;
  expiresAtMs: number;
}

export class CommandMemory {
  readonly capacity: number;
  readonly #records: RecordStore;
  readonly #seen = new Map<string, EnvelopeTimes>();
  #floorMs = -Infinity;
  #applied: Partial<Record<StateKind, number>> = {};

  private constructor(records: RecordStore, capacity: number) {
    this.#records = records;
    this.capacity = capacity;
  }

  /** A damaged record is a StorageError: the caller decides (the link refuses to start). */
  static async open(records: RecordStore, capacity = 256): Promise<CommandMemory> {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity is >= 1');
    const memory = new CommandMemory(records, capacity);
    const record = await records.getJson(COMMAND_MEMORY_RECORD, isMemoryRecord);
    if (record) {
      for (const [id, issuedAtMs, expiresAtMs] of record.seen) {
        memory.#seen.set(id, { issuedAtMs, expiresAtMs });
      }
      memory.#floorMs = record.floorMs ?? -Infinity;
      memory.#applied = { ...record.applied };
    }
    return memory;
  }

  /** Whether an envelope with this id (issued then) was accepted before, or is below the floor. */
  isReplay(id: Uint8Array, issuedAtMs: number): boolean {
    return issuedAtMs <= this.#floorMs || this.#seen.has(toHex(id));
  }

  /**
   * Remembers an accepted envelope, durably. `nowMs`: the module clock when trusted (ids of
   * expired envelopes are then forgotten); undefined when not, then nothing is pruned by time.
   */
  async remember(id: Uint8Array, times: EnvelopeTimes, nowMs: number | undefined): Promise<void> {
    this.#seen.set(toHex(id), { ...times });
    if (nowMs !== undefined) {
      for (const [key, entry] of this.#seen) {
        if (entry.expiresAtMs <= nowMs) this.#seen.delete(key);
      }
    }
    while (this.#seen.size > this.capacity) {
      let oldestKey: string | undefined;
      let oldestIssued = Infinity;
      for (const [key, entry] of this.#seen) {
        if (entry.issuedAtMs < oldestIssued) {
          oldestIssued = entry.issuedAtMs;
          oldestKey = key;
        }
      }
      if (oldestKey === undefined) break;
      this.#seen.delete(oldestKey);
      this.#floorMs = Math.max(this.#floorMs, oldestIssued);
    }
    await this.#save();
  }

  /** Issue time of the last state of this kind that was applied. */
  lastApplied(kind: StateKind): number | undefined {
    return this.#applied[kind];
  }

  /** Raises (never lowers) the issue time below which states of these kinds are stale. */
  async markApplied(kinds: readonly StateKind[], issuedAtMs: number): Promise<void> {
    const raised = kinds.filter((kind) => (this.#applied[kind] ?? -Infinity) < issuedAtMs);
    if (raised.length === 0) return;
    this.#applied = { ...this.#applied };
    for (const kind of raised) this.#applied[kind] = issuedAtMs;
    await this.#save();
  }

  get size(): number {
    return this.#seen.size;
  }

  async #save(): Promise<void> {
    const record: MemoryRecord = {
      seen: [...this.#seen].map(([id, t]) => [id, t.issuedAtMs, t.expiresAtMs]),
      floorMs: Number.isFinite(this.#floorMs) ? this.#floorMs : null,
      applied: this.#applied,
    };
    await this.#records.putJson(COMMAND_MEMORY_RECORD, record, isMemoryRecord);
  }
}
