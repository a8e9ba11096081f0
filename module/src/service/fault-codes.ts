/**
 * The module's fault memory (PROTOCOL.md section 14 "Fault codes"): which codes of FAULT_CODES
 * were detected, how often, when first and last, and whether the fault is still present.
 *
 * One crash-safe JSON record, `fault-codes`, holds them all; every change writes the whole list
 * in one put, so a power cut leaves the old memory or the new one. The in-memory copy changes
 * only after the put succeeded. The catalogue is finite, so the memory is bounded.
 *
 * `fault_codes_read` answers from memory; `fault_codes_clear` (operation CLEAR_FAULTS: guarded by
 * the AuthorizationGuard on a provisioned module) forgets every code. A fault that is still there
 * comes back at the next check that finds it.
 */
import {
  FAULT_CODES,
  FAULT_CODE_PATTERN,
  faultCodeDefinition,
  type SelfTestId,
} from '@mini-sharing/shared-protocol/diagnostics';
import type { RequestHandlers } from '@mini-sharing/shared-protocol/session';
import type { RecordStore } from '../storage/index.js';

export const FAULT_CODES_RECORD = 'fault-codes';
/** More than the catalogue holds; codes a newer firmware stored are kept, never dropped. */
const MAX_STORED_FAULTS = 64;
const MAX_OCCURRENCES = 0xffff_ffff;

export interface StoredFault {
  code: string;
  /** Detected by the latest check that looks for it (false: stored from the past). */
  active: boolean;
  occurrences: number;
  /** Module clock, ms since the Unix epoch. */
  firstSeenMs: number;
  lastSeenMs: number;
}

interface FaultRecord {
  version: 1;
  faults: StoredFault[];
}

const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function isStoredFault(value: unknown): value is StoredFault {
  if (typeof value !== 'object' || value === null) return false;
  const fault = value as Record<string, unknown>;
  return (
    typeof fault.code === 'string' &&
    FAULT_CODE_PATTERN.test(fault.code) &&
    typeof fault.active === 'boolean' &&
    typeof fault.occurrences === 'number' &&
    Number.isSafeInteger(fault.occurrences) &&
    fault.occurrences >= 1 &&
    fault.occurrences <= MAX_OCCURRENCES &&
    isTime(fault.firstSeenMs) &&
    isTime(fault.lastSeenMs)
  );
}

function isFaultRecord(value: unknown): value is FaultRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record.version === 1 &&
    Array.isArray(record.faults) &&
    record.faults.length <= MAX_STORED_FAULTS &&
    record.faults.every(isStoredFault) &&
    new Set(record.faults.map((f: StoredFault) => f.code)).size === record.faults.length
  );
}

export interface FaultUpdate {
  /** Codes a check found now: stored (or counted again) as active. */
  detected?: readonly string[];
  /** Codes a check looked for and did not find: kept, but no longer active. */
  absent?: readonly string[];
}

/** The codes of FAULT_CODES that a self-test sets. */
export function faultCodesOfTest(id: SelfTestId): string[] {
  return FAULT_CODES.filter((fault) => fault.selfTestId === id).map((fault) => fault.code);
}

const mostRecentFirst = (a: StoredFault, b: StoredFault) =>
  b.lastSeenMs - a.lastSeenMs || a.code.localeCompare(b.code);

export class FaultMemory {
  readonly #records: RecordStore;
  readonly #now: () => number;
  #faults: StoredFault[];
  readonly #storedListeners = new Set<(fault: StoredFault) => void>();
  /** Changes run one after another: each is a read-modify-write of the one record. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(records: RecordStore, now: () => number, faults: StoredFault[]) {
    this.#records = records;
    this.#now = now;
    this.#faults = faults;
  }

  /**
   * Reads the stored memory. A damaged record must not stop the module: it starts empty,
   * `onDamaged` hears why, and the next change overwrites the record.
   */
  static async open(
    records: RecordStore,
    options: { now: () => number; onDamaged?: (message: string) => void },
  ): Promise<FaultMemory> {
    let faults: StoredFault[] = [];
    try {
      faults = (await records.getJson(FAULT_CODES_RECORD, isFaultRecord))?.faults ?? [];
    } catch (error) {
      options.onDamaged?.(
        `stored fault codes unreadable, starting empty: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return new FaultMemory(records, options.now, faults);
  }

  /** The stored faults, most recently seen first. */
  get faults(): readonly StoredFault[] {
    return [...this.#faults].sort(mostRecentFirst);
  }

  /**
   * Hears each code a check stored (new, or counted again) once it is durable: what the cloud
   * link reports as `fault_code_stored`. Returns the function that unsubscribes.
   */
  onStored(listener: (fault: StoredFault) => void): () => void {
    this.#storedListeners.add(listener);
    return () => this.#storedListeners.delete(listener);
  }

  /** Stores what a check found; resolves once it is durable. */
  async update(update: FaultUpdate): Promise<void> {
    let reported: StoredFault[] = [];
    await this.#change((faults) => {
      const now = Math.max(0, Math.round(this.#now()));
      const next = faults.map((fault) => ({ ...fault }));
      for (const code of new Set(update.detected ?? [])) {
        if (faultCodeDefinition(code) === undefined) {
          throw new Error(`${code} is not a fault code of this firmware's catalogue`);
        }
        const stored = next.find((fault) => fault.code === code);
        if (stored) {
          stored.active = true;
          stored.occurrences = Math.min(MAX_OCCURRENCES, stored.occurrences + 1);
          stored.lastSeenMs = Math.max(stored.firstSeenMs, now);
        } else {
          next.push({ code, active: true, occurrences: 1, firstSeenMs: now, lastSeenMs: now });
        }
      }
      const detected = new Set(update.detected ?? []);
      for (const code of update.absent ?? []) {
        const stored = next.find((fault) => fault.code === code);
        if (stored && !detected.has(code)) stored.active = false;
      }
      const kept =
        next.length > MAX_STORED_FAULTS
          ? next.sort(mostRecentFirst).slice(0, MAX_STORED_FAULTS)
          : next;
      reported = kept.filter((fault) => detected.has(fault.code)).map((fault) => ({ ...fault }));
      return kept;
    });
    for (const fault of reported) {
      for (const listener of [...this.#storedListeners]) {
        try {
          listener(fault);
        } catch {
          // a listener's failure is its own: the fault is stored either way
        }
      }
    }
  }

  /** Forgets every stored code; resolves with how many there were, once durable. */
  async clear(): Promise<number> {
    let cleared = 0;
    await this.#change((faults) => {
      cleared = faults.length;
      return [];
    });
    return cleared;
  }

  /** `fault_codes_read` and `fault_codes_clear`. */
  readonly handlers: Required<Pick<RequestHandlers, 'faultCodesRead' | 'faultCodesClear'>> = {
    faultCodesRead: () => ({
      faultCodes: this.faults.map((fault) => ({
        code: fault.code,
        description: faultCodeDefinition(fault.code)?.text.en ?? `Unknown fault code ${fault.code}`,
        active: fault.active,
        occurrences: fault.occurrences,
        firstSeenMs: BigInt(fault.firstSeenMs),
        lastSeenMs: BigInt(fault.lastSeenMs),
      })),
    }),
    faultCodesClear: async () => ({ cleared: await this.clear() }),
  };

  #change(change: (faults: readonly StoredFault[]) => StoredFault[]): Promise<void> {
    const run = this.#queue.then(async () => {
      const next = change(this.#faults);
      if (next.length === 0) await this.#records.delete(FAULT_CODES_RECORD);
      else
        await this.#records.putJson(
          FAULT_CODES_RECORD,
          { version: 1, faults: next },
          isFaultRecord,
        );
      this.#faults = next;
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}
