/**
 * For tests only: a module clock tests can move, a car, and an access controller that records
 * what the cloud link asked of it.
 */
import type { TimerHandle } from '@mini-sharing/shared-protocol/clock';
import type {
  BookingEnded,
  BookingStarted,
  NewOwnerReset,
} from '@mini-sharing/shared-protocol/link';
import {
  verifyRevocationList,
  type CloudKeyRing,
  type RevocationList,
} from '@mini-sharing/shared-protocol/trust';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import type {
  GnssReading,
  ModuleClock,
  ModuleClockChange,
  VehicleEvent,
  VehicleState,
} from '../../hal/index.js';
import { RTC_RESET_MS } from '../../hal/index.js';
import type {
  AccessEvent,
  CloudCommandTarget,
  TargetAnswer,
  TargetBooking,
} from '../command-target.js';
import type { TelemetrySources } from '../telemetry.js';

/**
 * A clock that stands still until moved, with real-time timers (delays are durations, as the
 * ModuleClock contract says): `jump(ms)` moves `now()` and fires the timers it passes, so "an
 * hour offline" takes no hour and times in assertions are exact.
 */
export class TestModuleClock implements ModuleClock {
  timeKnown = true;
  #nowMs: number;
  #nextId = 1;
  readonly #timers = new Map<
    number,
    { dueMs: number; callback: () => void; handle: NodeJS.Timeout }
  >();
  readonly #listeners = new Set<(change: ModuleClockChange) => void>();

  constructor(startMs = TEST_NOW_MS) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    const handle = setTimeout(() => {
      this.#timers.delete(id);
      callback();
    }, ms);
    this.#timers.set(id, { dueMs: this.now() + ms, callback, handle });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.#timers.get(handle as number);
    if (!timer) return;
    clearTimeout(timer.handle);
    this.#timers.delete(handle as number);
  }

  async setTime(nowMs: number): Promise<void> {
    const deltaMs = nowMs - this.#nowMs;
    this.#nowMs = nowMs;
    this.timeKnown = true;
    this.#emit({ reason: 'set', nowMs, deltaMs, timeKnown: true });
  }

  /** Time passes at once; due timers fire in order. */
  jump(ms: number): void {
    this.#nowMs += ms;
    const now = this.#nowMs;
    const due = [...this.#timers].filter(([, t]) => t.dueMs <= now);
    due.sort((a, b) => a[1].dueMs - b[1].dueMs);
    for (const [id, timer] of due) {
      clearTimeout(timer.handle);
      this.#timers.delete(id);
      timer.callback();
    }
    this.#emit({ reason: 'jump', nowMs: now, deltaMs: ms, timeKnown: this.timeKnown });
  }

  /** The 12 V supply was lost: the RTC restarts at 2000-01-01, time unknown. */
  loseTime(): void {
    const deltaMs = RTC_RESET_MS - this.#nowMs;
    this.#nowMs = RTC_RESET_MS;
    this.timeKnown = false;
    this.#emit({ reason: 'jump', nowMs: this.now(), deltaMs, timeKnown: false });
  }

  onChange(listener: (change: ModuleClockChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: ModuleClockChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

/** The car and its GNSS as the link reads them. */
export class FakeCar implements TelemetrySources {
  state: VehicleState = {
    locked: true,
    openDoors: [],
    ignition: 'off',
    engineRunning: false,
    immobilizerReleased: false,
    speedKmh: 0,
    odometerKm: 48_211.4,
    fuelPercent: 62,
    keysInCabin: 0,
  };
  millivolts = 12_600;
  position: GnssReading = {
    fix: true,
    latitude: 48.1351253,
    longitude: 11.5819806,
    accuracyM: 4,
    fixTimeMs: TEST_NOW_MS,
  };
  /** How often the GNSS was read (the link must not even read it while positions are banned). */
  gnssReads = 0;
  readonly #listeners = new Set<(event: VehicleEvent) => void>();
  readonly #supplyListeners = new Set<(millivolts: number) => void>();

  readonly vehicle: TelemetrySources['vehicle'] = {
    readState: async () => structuredClone(this.state),
    onEvent: (listener) => {
      this.#listeners.add(listener);
      return () => this.#listeners.delete(listener);
    },
  };
  readonly gnss: TelemetrySources['gnss'] = {
    readPosition: async () => {
      this.gnssReads += 1;
      return structuredClone(this.position);
    },
  };
  readonly supply: TelemetrySources['supply'] = {
    readMillivolts: async () => this.millivolts,
    onChange: (listener) => {
      this.#supplyListeners.add(listener);
      return () => this.#supplyListeners.delete(listener);
    },
  };

  setLocked(locked: boolean): void {
    this.state.locked = locked;
    for (const listener of this.#listeners) listener({ type: 'lock', locked });
  }
}

export type AccessCall =
  | { method: 'bookingStarted'; body: BookingStarted }
  | { method: 'bookingEnded'; body: BookingEnded }
  | { method: 'applyRevocationList'; sequence: bigint | undefined; accepted: boolean }
  | { method: 'timeSync'; trustedTimeMs: number }
  | { method: 'newOwnerReset'; body: NewOwnerReset; confirmed: boolean };

/**
 * Stands in for the keyless access controller: keeps the running booking, the revocation list
 * (checked like a phone relay), the trusted time floor and the owner generation.
 */
export class FakeAccess implements CloudCommandTarget {
  readonly calls: AccessCall[] = [];
  runningBooking: TargetBooking | undefined;
  revocationList: RevocationList | undefined;
  trustedFloorMs = 0;
  ownerGeneration = 1;
  readonly #listeners = new Set<(event: AccessEvent) => void>();

  constructor(
    private readonly context: {
      moduleSerial: string;
      keyRing: () => CloudKeyRing;
      car: FakeCar;
      /** Shared with the test cloud, to check what happened in which order. */
      journal: string[];
    },
  ) {}

  bookingStarted(body: BookingStarted): TargetAnswer {
    this.calls.push({ method: 'bookingStarted', body });
    this.context.journal.push(`module: booking ${body.bookingId} started`);
    this.runningBooking = { bookingId: body.bookingId, tokenId: body.tokenId, role: body.role };
  }

  bookingEnded(body: BookingEnded): TargetAnswer {
    this.calls.push({ method: 'bookingEnded', body });
    this.context.journal.push(`module: booking ${body.bookingId} ended`);
    if (this.runningBooking?.bookingId === body.bookingId) this.runningBooking = undefined;
  }

  async applyRevocationList(signedBytes: Uint8Array): Promise<TargetAnswer> {
    const verdict = await verifyRevocationList(signedBytes, {
      moduleSerial: this.context.moduleSerial,
      keyRing: this.context.keyRing(),
      currentSequence: this.revocationList?.sequence,
    });
    if (verdict.ok) this.revocationList = verdict.value;
    this.calls.push({
      method: 'applyRevocationList',
      sequence: verdict.ok ? verdict.value.sequence : undefined,
      accepted: verdict.ok,
    });
    if (verdict.ok) {
      this.context.journal.push(`module: revocation list ${verdict.value.sequence} applied`);
    }
    return verdict;
  }

  timeSync(trustedTimeMs: number): TargetAnswer {
    this.calls.push({ method: 'timeSync', trustedTimeMs });
    if (trustedTimeMs < this.trustedFloorMs) {
      return { ok: false, stale: true, message: 'Below the trusted time floor' };
    }
    this.trustedFloorMs = trustedTimeMs;
  }

  async newOwnerReset(body: NewOwnerReset): Promise<{ confirmed: boolean; reason?: string }> {
    let reason: string | undefined;
    if (this.context.car.state.keysInCabin < 2) {
      reason = 'Both physical keys must be in the cabin';
    } else if (body.ownerGeneration <= this.ownerGeneration) {
      reason = `Owner generation ${body.ownerGeneration} is not above ${this.ownerGeneration}`;
    }
    this.calls.push({ method: 'newOwnerReset', body, confirmed: reason === undefined });
    if (reason) return { confirmed: false, reason };
    this.ownerGeneration = body.ownerGeneration;
    this.revocationList = undefined;
    this.runningBooking = undefined;
    return { confirmed: true };
  }

  onEvent(listener: (event: AccessEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: AccessEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  count(method: AccessCall['method']): number {
    return this.calls.filter((call) => call.method === method).length;
  }
}
