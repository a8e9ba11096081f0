/**
 * Telemetry reports (QoS 0, not queued: only the latest state matters, and one goes out on every
 * connect): periodically, soon after the car changes, and on request. The location rule
 * (DESIGN.md "Location", PROTOCOL.md 16.5): no position while a driver's booking runs or is being
 * started — the GNSS is not even read then, and the rule is checked again after every wait,
 * right before the report leaves; the parking position goes out when such a booking ends.
 */
import { positionAllowed } from '@mini-sharing/shared-protocol/link';
import type { ModuleClock } from '../hal/index.js';
import { describeError, type LogLevel, type ReportChannel, type ReportSigner } from './channel.js';
import type { CloudCommandTarget } from './command-target.js';
import { readTelemetry, type TelemetryReport, type TelemetrySources } from './telemetry.js';

export class TelemetrySender {
  readonly #hal: TelemetrySources;
  readonly #access: CloudCommandTarget;
  readonly #clock: ModuleClock;
  readonly #sign: ReportSigner;
  readonly #log: (level: LogLevel, message: string) => void;
  readonly #intervalMs: number;
  readonly #debounceMs: number;
  readonly #unsubscribe: Array<() => void> = [];
  #channel: ReportChannel | undefined;
  #periodicTimer: unknown;
  #soonTimer: unknown;
  #busy = false;
  #pending = false;
  #bookingStarts = 0;
  #stopped = false;

  constructor(options: {
    hal: TelemetrySources;
    access: CloudCommandTarget;
    clock: ModuleClock;
    sign: ReportSigner;
    log: (level: LogLevel, message: string) => void;
    intervalMs: number;
    /** A change in the car is reported after this quiet time (changes coalesce). */
    debounceMs: number;
  }) {
    this.#hal = options.hal;
    this.#access = options.access;
    this.#clock = options.clock;
    this.#sign = options.sign;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs;
    this.#debounceMs = options.debounceMs;
  }

  /** Listens to the car and starts the periodic report. */
  start(): void {
    const { vehicle, supply } = this.#hal;
    this.#unsubscribe.push(
      vehicle.onEvent((event) => {
        if (event.type === 'lock' || event.type === 'doors' || event.type === 'ignition') {
          this.soon();
        }
      }),
      supply.onChange(() => this.soon()),
    );
    this.#schedulePeriodic();
  }

  stop(): void {
    this.#stopped = true;
    this.#channel = undefined;
    this.#clock.clearTimeout(this.#periodicTimer);
    this.#clock.clearTimeout(this.#soonTimer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  /** A (new) online channel: a report goes out at once. Undefined: offline. */
  sendOn(channel: ReportChannel | undefined): void {
    this.#channel = channel;
    if (channel) void this.send('connected');
  }

  /** DESIGN.md "Location": no position while a driver's booking runs or is being started. */
  positionAllowed(): boolean {
    return this.#bookingStarts === 0 && positionAllowed(this.#access.runningBooking);
  }

  /** Runs a booking start with positions held back from before the access controller hears it. */
  async holdPositions<T>(work: () => Promise<T>): Promise<T> {
    this.#bookingStarts += 1;
    try {
      return await work();
    } finally {
      this.#bookingStarts -= 1;
    }
  }

  /** A report now; while offline (or one is being made), as soon as possible. */
  async send(reason: string): Promise<void> {
    const channel = this.#channel;
    if (this.#stopped) return;
    if (!channel?.open || this.#busy) {
      this.#pending = true;
      return;
    }
    this.#busy = true;
    this.#pending = false;
    try {
      const report = await readTelemetry(this.#hal, this.positionAllowed(), (what, error) =>
        this.#log('warn', `telemetry without ${what}: ${describeError(error)}`),
      );
      const timeMs = Math.floor(this.#clock.now());
      let payload = await this.#signReport(report, timeMs);
      while (report.position && !this.positionAllowed()) {
        report.position = undefined;
        payload = await this.#signReport(report, timeMs);
      }
      if (channel !== this.#channel || !channel.open) {
        this.#pending = true;
        return;
      }
      channel.publish('telemetry', payload, 0);
      this.#log('debug', `telemetry sent (${reason}${report.position ? ', with position' : ''})`);
    } catch (error) {
      this.#log('warn', `telemetry not sent: ${describeError(error)}`);
    } finally {
      this.#busy = false;
      if (this.#pending && this.#channel?.open) void this.send('pending');
    }
  }

  /** Soon, after the debounce time (the car changed). */
  soon(): void {
    if (this.#stopped || this.#soonTimer !== undefined) return;
    this.#soonTimer = this.#clock.setTimeout(() => {
      this.#soonTimer = undefined;
      void this.send('the car changed');
    }, this.#debounceMs);
  }

  #schedulePeriodic(): void {
    if (this.#stopped) return;
    this.#periodicTimer = this.#clock.setTimeout(() => {
      void this.send('periodic');
      this.#schedulePeriodic();
    }, this.#intervalMs);
  }

  #signReport(report: TelemetryReport, timeMs: number): Promise<Uint8Array> {
    return this.#sign({ case: 'telemetry', value: report }, timeMs);
  }
}
