/**
 * Events and command results: signed when they happen, queued in the crash-safe outbox, and
 * published in order with QoS 1, a window at a time, deleted once acknowledged. When the full
 * outbox had to drop reports, a ReportsDropped event goes out before the rest.
 */
import type { ModuleBodyInit } from '@mini-sharing/shared-protocol/link';
import { describeError, type LogLevel, type ReportChannel, type ReportSigner } from './channel.js';
import type { Outbox, OutboxTopic } from './outbox.js';

export class ReportQueue {
  readonly #outbox: Outbox;
  readonly #sign: ReportSigner;
  readonly #now: () => number;
  readonly #log: (level: LogLevel, message: string) => void;
  readonly #window: number;
  readonly #onChange: () => void;
  #chain: Promise<void> = Promise.resolve();
  #channel: ReportChannel | undefined;
  /** Outbox sequence numbers published on the current channel, not yet acknowledged. */
  #inFlight = new Set<number>();
  #lossInFlight = false;
  #pumping = false;
  #pumpAgain = false;

  constructor(options: {
    outbox: Outbox;
    sign: ReportSigner;
    now: () => number;
    log: (level: LogLevel, message: string) => void;
    /** Reports published and not yet acknowledged at once. */
    window: number;
    /** Called when the queue's size or loss count changed. */
    onChange: () => void;
  }) {
    this.#outbox = options.outbox;
    this.#sign = options.sign;
    this.#now = options.now;
    this.#log = options.log;
    this.#window = options.window;
    this.#onChange = options.onChange;
  }

  get size(): number {
    return this.#outbox.size;
  }

  /** Reports the full queue dropped that the cloud has not been told about. */
  get dropped(): number {
    return this.#outbox.dropped?.count ?? 0;
  }

  /** Signs a report now and queues it durably; reports keep the order of these calls. */
  add(topic: OutboxTopic, body: ModuleBodyInit, atMs?: number): Promise<void> {
    const timeMs = Math.floor(atMs ?? this.#now());
    const queued = this.#chain.then(async () => {
      const payload = await this.#sign(body, timeMs);
      const dropsBefore = this.dropped;
      await this.#outbox.add(topic, payload, timeMs);
      if (this.dropped > dropsBefore) this.#log('warn', 'offline queue full: dropped the oldest');
      this.#onChange();
      this.#pump();
    });
    this.#chain = queued.catch((error: unknown) =>
      this.#log('error', `report not queued: ${describeError(error)}`),
    );
    return this.#chain;
  }

  /** Start sending on a (new) channel, from the oldest report; undefined: stop sending. */
  sendOn(channel: ReportChannel | undefined): void {
    this.#channel = channel;
    this.#inFlight = new Set();
    this.#lossInFlight = false;
    this.#pump();
  }

  /** Resolves once every report added so far is in the outbox. */
  settled(): Promise<void> {
    return this.#chain;
  }

  #pump(): void {
    const channel = this.#channel;
    if (!channel?.open) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void this.#pumpOnce(channel)
      .catch((error: unknown) => this.#log('error', `sending reports: ${describeError(error)}`))
      .finally(() => {
        this.#pumping = false;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.#pump();
        }
      });
  }

  async #pumpOnce(channel: ReportChannel): Promise<void> {
    const dropped = this.#outbox.dropped;
    if (dropped && !this.#lossInFlight) {
      this.#lossInFlight = true;
      // Every dropped report is older than every queued one: the count goes first.
      const payload = await this.#sign(
        {
          case: 'event',
          value: {
            kind: {
              case: 'reportsDropped',
              value: {
                count: dropped.count,
                firstDroppedMs: BigInt(dropped.firstDroppedMs),
                lastDroppedMs: BigInt(dropped.lastDroppedMs),
              },
            },
          },
        },
        Math.floor(this.#now()),
      );
      if (channel !== this.#channel || !channel.open) return;
      channel.publish('events', payload, 1, (error) => {
        if (error || channel !== this.#channel) return;
        void this.#outbox.reportedDropped(dropped.count).then(() => {
          this.#lossInFlight = false;
          this.#onChange();
          this.#pump();
        });
      });
    }
    for (const entry of this.#outbox.entries) {
      if (this.#inFlight.size >= this.#window) break;
      if (this.#inFlight.has(entry.seq)) continue;
      this.#inFlight.add(entry.seq);
      const inFlight = this.#inFlight;
      channel.publish(entry.topic, entry.payload, 1, (error) => {
        if (channel !== this.#channel) return;
        if (error) {
          inFlight.delete(entry.seq);
          this.#log('warn', `report ${entry.seq} not acknowledged: ${describeError(error)}`);
          return;
        }
        // Out of the in-flight set only once deleted, so it is never published twice here.
        void this.#outbox.remove(entry.seq).then(() => {
          inFlight.delete(entry.seq);
          this.#onChange();
          this.#pump();
        });
      });
    }
  }
}
