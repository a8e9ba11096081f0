import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deriveSeed, seededRandom } from './prng.js';
import { PtyEnd } from './pty-end.js';
import type { BaudRates, LineDirection, LineEnd } from './relay.js';
import { ENDS, Relay } from './relay.js';
import type { DirectionStats } from './wire.js';
import { WireDirection } from './wire.js';

export type { BaudRates, LineDirection, LineEnd };

export interface SerialLineOptions {
  /** Folder for the port links; default: a fresh temporary folder, removed on close. */
  dir?: string;
  /** Folder for the module end's link, if it should not sit next to the app end's. */
  moduleDir?: string;
  /** Link names are `<name>-app` and `<name>-module`; default `serial`. */
  name?: string;
  /** Wire time multiplier: 1 is real time, 0.01 is 100 times faster, 0 is instant. */
  timeScale?: number;
  /** Seed of the fault injection's random numbers; same seed and traffic, same faults. */
  seed?: number;
  /** How often the ends' rates are read for `baudRates()` and `baudRate` events (ms). */
  pollIntervalMs?: number;
  /** Default `socat` (looked up in PATH). */
  socatPath?: string;
}

export interface SerialLineFaults {
  /** Probability that each data bit is flipped, 0..1. */
  bitErrorRate?: number;
  /** Probability that each byte is dropped, 0..1. */
  dropRate?: number;
  /**
   * The fastest rate the line carries (a long or poor cable, a weak driver): bytes sent at a
   * higher rate arrive as noise, every bit a coin toss. Infinity (or 0) removes the limit.
   */
  maxBaudRate?: number;
  /** Only this direction; default both. */
  direction?: LineDirection;
}

export type SerialLineStats = Record<LineDirection, DirectionStats>;

export interface SerialLineEvents {
  /** An end's configured rate changed (undefined: unconfigured, or unplugged). */
  baudRate: [change: { end: LineEnd; baudRate: number | undefined }];
  unplug: [];
  plug: [];
  /** The line went down without being asked to (socat died, or a timed plug failed). */
  failure: [reason: string];
}

// Between the last delivery and pulling the cable. serialport (13) misses a hangup that lands
// while one of its reads is in flight: the read returns 0 (EOF on a hung-up tty) and it
// retries forever instead of closing. With nothing arriving, its reads park on poll(), where
// the hangup is seen at once.
const UNPLUG_SETTLE_MS = 20;

// Temporary folders of lines not closed yet, removed if the process exits without closing them
// (the ends remove their links and socat processes themselves).
const ownedDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A virtual serial line: two pty paths, the app end and the module end, which two programs
 * open with the real `serialport`, joined by a relay that models the wire (10 bits per byte at
 * the sender's rate, garbage when the ends' rates differ) and injects faults on command.
 *
 * Wire time scales with `timeScale`; fault durations (`stall`, `unplug({ forMs })`) are real
 * milliseconds, since what they test is the other side's real timeouts.
 */
export class VirtualSerialLine extends EventEmitter<SerialLineEvents> {
  private readonly ends: Partial<Record<LineEnd, PtyEnd>> = {};
  private readonly relay: Relay;
  private state: 'plugged' | 'unplugged' | 'closed' = 'unplugged';
  private polling = false;
  private readonly pollTimer: NodeJS.Timeout;
  private plugTimer: NodeJS.Timeout | undefined;
  // unplug, plug and close run one at a time, in call order.
  private transitions: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly appPath: string,
    readonly modulePath: string,
    readonly timeScale: number,
    seed: number,
    pollIntervalMs: number,
    private readonly socatPath: string,
    private readonly ownedDir: string | undefined,
  ) {
    super();
    const wire = (stream: number) =>
      new WireDirection(
        seededRandom(deriveSeed(seed, stream)),
        timeScale,
        seededRandom(deriveSeed(seed, stream + 2)),
      );
    const wires = { appToModule: wire(0), moduleToApp: wire(1) };
    this.relay = new Relay(wires, this.ends, (end, baudRate) =>
      this.emit('baudRate', { end, baudRate }),
    );
    this.pollTimer = setInterval(() => void this.poll(), pollIntervalMs);
  }

  static async open(options: SerialLineOptions = {}): Promise<VirtualSerialLine> {
    const timeScale = options.timeScale ?? 1;
    const pollIntervalMs = options.pollIntervalMs ?? 50;
    if (!(timeScale >= 0)) throw new RangeError('timeScale must be 0 or more');
    if (!(pollIntervalMs > 0)) throw new RangeError('pollIntervalMs must be more than 0');
    const ownedDir = options.dir ? undefined : await mkdtemp(join(tmpdir(), 'serial-line-'));
    if (ownedDir) ownedDirs.add(ownedDir);
    // Absolute, since openers may run in another working directory.
    const dir = resolve(options.dir ?? ownedDir!);
    const moduleDir = resolve(options.moduleDir ?? dir);
    await mkdir(dir, { recursive: true });
    await mkdir(moduleDir, { recursive: true });
    const name = options.name ?? 'serial';
    const line = new VirtualSerialLine(
      join(dir, `${name}-app`),
      join(moduleDir, `${name}-module`),
      timeScale,
      options.seed ?? 1,
      pollIntervalMs,
      options.socatPath ?? 'socat',
      ownedDir,
    );
    try {
      await line.plug();
    } catch (error) {
      await line.close();
      throw error;
    }
    return line;
  }

  get plugged(): boolean {
    return this.state === 'plugged';
  }

  /** Each end's rate as last read (undefined: nobody configured it yet, or unplugged). */
  baudRates(): BaudRates {
    return this.relay.baudRates;
  }

  /** Reads both ends' rates now. */
  async readBaudRates(): Promise<BaudRates> {
    await this.relay.refreshRates();
    return this.baudRates();
  }

  get stats(): SerialLineStats {
    const { appToModule, moduleToApp } = this.relay.wires;
    return { appToModule: { ...appToModule.stats }, moduleToApp: { ...moduleToApp.stats } };
  }

  /**
   * Sets noise from now on, also on bytes already on the wire (rates of 0 turn it off), and the
   * fastest rate the line carries, for bytes sent from now on.
   */
  setFaults(faults: SerialLineFaults): void {
    for (const key of ['bitErrorRate', 'dropRate'] as const) {
      const rate = faults[key];
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
        throw new RangeError(`${key} must be between 0 and 1, got ${rate}`);
      }
    }
    const { direction, maxBaudRate, ...rates } = faults;
    if (maxBaudRate !== undefined && !(maxBaudRate >= 0)) {
      throw new RangeError(`maxBaudRate must be 0 or more, got ${maxBaudRate}`);
    }
    const limit = maxBaudRate === undefined ? {} : { maxBaudRate: maxBaudRate || Infinity };
    for (const name of direction ? [direction] : (['appToModule', 'moduleToApp'] as const)) {
      this.relay.wires[name].setFaults({ ...rates, ...limit });
    }
  }

  /**
   * Nothing is delivered either way for `ms` (real time). Bytes sent meanwhile still cross
   * the wire and arrive together when the stall ends, or are lost with `lose`.
   */
  stall(ms: number, options: { lose?: boolean } = {}): void {
    const until = performance.now() + ms;
    for (const wire of Object.values(this.relay.wires)) wire.stall(until, options.lose ?? false);
    this.relay.scheduleDelivery();
  }

  /**
   * Pulls the cable: both ptys vanish, so openers' ports close (`disconnected`) and the paths
   * are gone; bytes on the wire are lost. With `forMs`, the line plugs itself back in after
   * that long (real time); resolves once the ends are gone either way.
   */
  unplug(options: { forMs?: number } = {}): Promise<void> {
    return this.transition(async () => {
      if (this.state === 'closed') throw new Error('the serial line is closed');
      clearTimeout(this.plugTimer);
      if (this.state === 'plugged') {
        await this.takeDown();
        this.emit('unplug');
      }
      if (options.forMs !== undefined) {
        this.plugTimer = setTimeout(() => {
          this.plug().catch((error: unknown) => this.emit('failure', describe(error)));
        }, options.forMs);
      }
    });
  }

  /** Plugs the cable back in: the same paths appear again for openers to reopen. */
  plug(): Promise<void> {
    return this.transition(async () => {
      if (this.state === 'closed') throw new Error('the serial line is closed');
      clearTimeout(this.plugTimer);
      if (this.state === 'plugged') return;
      const paths: Record<LineEnd, string> = { app: this.appPath, module: this.modulePath };
      const generation = this.relay.generation;
      const started = await Promise.allSettled(
        ENDS.map((end) =>
          PtyEnd.start({
            linkPath: paths[end],
            socatPath: this.socatPath,
            onData: (chunk) => this.relay.arrive(end, chunk, generation),
            onLost: (reason) => this.onEndLost(reason),
            onWritable: () => this.relay.scheduleDelivery(),
          }),
        ),
      );
      for (const [index, result] of started.entries()) {
        if (result.status === 'fulfilled') this.ends[ENDS[index]!] = result.value;
      }
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) {
        await this.stopEnds();
        throw failed.reason;
      }
      this.state = 'plugged';
      await this.readBaudRates();
      this.emit('plug');
    });
  }

  /** Ends socat and removes the links (and the folder, if the line made it). */
  close(): Promise<void> {
    return this.transition(async () => {
      if (this.state === 'closed') return;
      clearInterval(this.pollTimer);
      clearTimeout(this.plugTimer);
      await this.takeDown();
      this.state = 'closed';
      if (this.ownedDir) {
        await rm(this.ownedDir, { recursive: true, force: true });
        ownedDirs.delete(this.ownedDir);
      }
    });
  }

  /** socat process ids of the ends (for tests and diagnostics). */
  get processIds(): number[] {
    return ENDS.flatMap((end) => (this.ends[end]?.pid !== undefined ? [this.ends[end].pid] : []));
  }

  private transition(step: () => Promise<void>): Promise<void> {
    const run = this.transitions.then(step);
    this.transitions = run.catch(() => undefined);
    return run;
  }

  private async takeDown(): Promise<void> {
    this.state = 'unplugged';
    this.relay.cut();
    if (this.ends.app || this.ends.module) {
      await new Promise((resolve) => setTimeout(resolve, UNPLUG_SETTLE_MS));
    }
    await this.stopEnds();
    this.relay.forgetRates();
  }

  private async stopEnds(): Promise<void> {
    const running = ENDS.flatMap((end) => (this.ends[end] ? [this.ends[end]] : []));
    for (const end of ENDS) delete this.ends[end];
    await Promise.all(running.map((end) => end.stop()));
  }

  private onEndLost(reason: string): void {
    if (this.state !== 'plugged') return;
    void this.transition(async () => {
      if (this.state !== 'plugged') return;
      await this.takeDown();
      this.emit('failure', reason);
      this.emit('unplug');
    });
  }

  private async poll(): Promise<void> {
    if (this.polling || this.state !== 'plugged') return;
    this.polling = true;
    try {
      await this.relay.refreshRates();
    } finally {
      this.polling = false;
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
