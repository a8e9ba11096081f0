/**
 * The module's advertisement while provisioned (PROTOCOL.md 15.6): the key service UUID with the
 * rotating identifier and the masked car state, built by shared-protocol's gatt code. It changes
 * at every 15-minute window boundary of the module clock and whenever the advertised state does
 * (lock, doors, ignition, a booking running). No name, ever.
 *
 * Not done here: the BLE random address does not rotate with the identifier, because bleno
 * advertises with its public address only (no LE Set Random Address / own address type).
 */
import type { Bleno } from '@stoprocent/bleno';
import type { TimerHandle } from '@mini-sharing/shared-protocol/clock';
import { bytesEqual } from '@mini-sharing/shared-protocol/crypto';
import {
  buildAdvertisement,
  windowIndexAt,
  windowStartMs,
  type AdvertisedState,
} from '@mini-sharing/shared-protocol/gatt';
import type { ModuleClock, VehicleInterface, VehicleState } from '../hal/index.js';
import type { KeylessLog } from './access-events.js';
import { ExclusiveQueue } from './listeners.js';

const COMPONENT = 'key-link';
/** How long to wait for bleno to confirm new advertising data (real time). */
const CONFIRM_WAIT_MS = 1000;
/** Without a car state, advertise the safe guess (locked, closed) until the car answers. */
const UNKNOWN_STATE: Pick<AdvertisedState, 'locked' | 'allClosed' | 'ignitionOn'> = {
  locked: true,
  allClosed: true,
  ignitionOn: false,
};

export interface AdvertiserOptions {
  bleno: Bleno;
  clock: ModuleClock;
  vehicle: VehicleInterface;
  /** The per-module advertising secret (from the module-link settings). */
  secret: Uint8Array;
  bookingActive: () => boolean;
  log: KeylessLog;
}

export class KeylessAdvertiser {
  readonly #options: AdvertiserOptions;
  readonly #queue = new ExclusiveQueue();
  readonly #unsubscribe: Array<() => void> = [];
  #car: Pick<AdvertisedState, 'locked' | 'allClosed' | 'ignitionOn'> = UNKNOWN_STATE;
  #advertised: Uint8Array | undefined;
  #timer: TimerHandle | undefined;
  #running = false;

  constructor(options: AdvertiserOptions) {
    this.#options = options;
  }

  /** The advertising data on air now (31 bytes), if advertising. */
  get advertisement(): Uint8Array | undefined {
    return this.#advertised;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { vehicle, clock } = this.#options;
    this.#unsubscribe.push(
      vehicle.onEvent((event) => {
        if (event.type === 'lock') this.#car = { ...this.#car, locked: event.locked };
        else if (event.type === 'doors') {
          this.#car = { ...this.#car, allClosed: event.openDoors.length === 0 };
        } else if (event.type === 'ignition') {
          this.#car = { ...this.#car, ignitionOn: event.ignition === 'on' };
        } else return;
        this.refresh();
      }),
      clock.onChange(() => this.refresh()),
    );
    try {
      this.#car = advertisedCar(await vehicle.readState());
    } catch (error) {
      this.#options.log('warn', COMPONENT, `advertising without the car state: ${String(error)}`);
    }
    await this.#update();
  }

  /** Something advertised may have changed (a booking started or ended, the clock moved). */
  refresh(): void {
    if (!this.#running) return;
    this.#update().catch((error: unknown) =>
      this.#options.log('error', COMPONENT, `advertising failed: ${String(error)}`),
    );
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#clearTimer();
    await this.#queue.run(async () => {
      this.#advertised = undefined;
      await this.#options.bleno.stopAdvertisingAsync().catch(() => undefined);
    });
  }

  #update(): Promise<void> {
    return this.#queue.run(async () => {
      if (!this.#running) return;
      const { bleno, clock, secret, bookingActive } = this.#options;
      const nowMs = Math.max(0, clock.now());
      const data = buildAdvertisement(secret, nowMs, {
        ...this.#car,
        bookingActive: bookingActive(),
      });
      this.#scheduleNextWindow(nowMs);
      if (this.#advertised && bytesEqual(this.#advertised, data)) return;
      // bleno confirms through a state machine that a connection or disconnection arriving
      // meanwhile resets (it re-enables advertising itself), so the confirmation may never come;
      // the data commands went out either way. Never wait for it forever.
      const confirmed = await Promise.race([
        bleno.startAdvertisingWithEIRDataAsync(Buffer.from(data), Buffer.alloc(0)).then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), CONFIRM_WAIT_MS).unref()),
      ]);
      if (!confirmed) {
        this.#options.log(
          'debug',
          COMPONENT,
          'the BLE stack did not confirm the new advertisement',
        );
      }
      this.#advertised = data;
    });
  }

  #scheduleNextWindow(nowMs: number): void {
    this.#clearTimer();
    const next = windowStartMs(windowIndexAt(nowMs) + 1);
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      this.refresh();
    }, next - nowMs);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

const advertisedCar = (state: VehicleState) => ({
  locked: state.locked,
  allClosed: state.openDoors.length === 0,
  ignitionOn: state.ignition === 'on',
});
