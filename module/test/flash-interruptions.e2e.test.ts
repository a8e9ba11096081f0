/**
 * Flashes interrupted at random points, end to end (issue #6). The simulated module (boot loader
 * and firmware as real processes, booted from signed images) is flashed with 1.1.0 by the shared
 * FlashSender over the virtual serial line at the negotiated rate, and at a random point either
 * the cable is pulled and plugged back in, or the module's power is cut (its whole process tree
 * killed) and restored. A point is a committed byte count, a time anywhere from the first chunk
 * to the new image answering, or a time during the reboot after activation (where a cut between
 * the trial boot and the new image's self-confirmation must roll back).
 *
 * After each interruption the module must answer HELLO in application mode, never recovery, with
 * the image it ran before or, once the activation got through, 1.1.0 from the slot just flashed.
 * A power cut must keep every byte the module acknowledged. The next attempt with `resume: true`
 * must continue from the committed offset the module kept (all of it once every byte was in), go
 * straight to flash_end when the slot already holds the image verified, or start over when it
 * kept nothing, and end with 1.1.0 running from the flashed slot, confirmed.
 *
 * Rounds run on from what the round before left running (1.1.0 in A or B, so both slots get
 * flashed while the other runs); every fifth round starts from the factory state instead (1.0.0
 * in slot A), restored by copying the factory-programmed flash back while the module is off: far
 * cheaper than flashing 1.0.0 back (which would be allowed: both releases carry security
 * counter 1).
 *
 * Three of the points again at real speed (wire time scale 1, 921600 baud after negotiation),
 * and a module powered on while the cable is out.
 *
 * The points come from a seeded PRNG: each test name carries its point, the describe name the
 * seed, a failure the whole round's story and the module's log. Another seed:
 * FLASH_INTERRUPTIONS_SEED=<n>; fewer points: FLASH_INTERRUPTIONS_ROUNDS=<n>; one point:
 * -t '#17 '; every round's story: FLASH_INTERRUPTIONS_VERBOSE=1.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { sha256 } from '@mini-sharing/shared-protocol/crypto';
import {
  BootSlot,
  FlashState,
  RunMode,
  type HelloResponse,
} from '@mini-sharing/shared-protocol/messages';
import {
  FlashSender,
  ServiceClient,
  type FlashResult,
} from '@mini-sharing/shared-protocol/service-client';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { seededRandom } from '../sim/serial-line/prng.js';
import { startModuleRig, type ModuleFlashState, type ModuleRig } from '../sim/index.js';

const SEED = Number(process.env.FLASH_INTERRUPTIONS_SEED ?? 20_240_606);
const ROUNDS = Number(process.env.FLASH_INTERRUPTIONS_ROUNDS ?? 50);
const VERBOSE = Boolean(process.env.FLASH_INTERRUPTIONS_VERBOSE);
/** The fast rig's wire runs 20 times faster than real time. */
const TIME_SCALE = 0.05;
const FLASH_OPTIONS = { chunkSize: 4096, window: 8 } as const;
/** A hello attempt waits this long: short, so a booting module is seen soon after it is up. */
const HELLO_ATTEMPT_MS = 150;
/** Long enough for a module to boot even on loaded CPUs. */
const BOOT_DEADLINE_MS = 30_000;
/**
 * After the activation was answered the module reboots on its own (200 ms later): an unplugged
 * host waits this long from the answer before asking what runs, so it does not talk to the old
 * image just before it goes.
 */
const REBOOT_SETTLE_MS = 800;
const VALID_VERSIONS = ['1.0.0', '1.1.0'];

type Cut = 'unplug' | 'power';

type Trigger =
  /** once the host has seen this fraction of the image acknowledged as committed */
  | { committed: number }
  /** this fraction of an uninterrupted flash-and-reboot after the first chunk */
  | { time: number }
  /** this fraction of an uninterrupted reboot after the activation was answered */
  | { reboot: number }
  /** as soon as the boot loader starts the new image for its trial boot (before it confirms) */
  | { trialBoot: true };

interface InterruptionPoint {
  name: string;
  cut: Cut;
  at: Trigger;
  /** How long the cable stays out or the power off (ms). */
  offMs: number;
}

function describePoint(index: number, cut: Cut, at: Trigger, offMs: number): string {
  const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;
  const when =
    'committed' in at
      ? `at ${percent(at.committed)} committed`
      : 'time' in at
        ? `at ${percent(at.time)} of the flash-and-reboot time`
        : 'reboot' in at
          ? `at ${percent(at.reboot)} of the reboot after activation`
          : 'as the trial boot of the new image starts';
  return `#${index} ${cut === 'power' ? 'power cut' : 'unplug'} ${when}, off ${offMs} ms`;
}

/** The points, all drawn from one seed so a failing one can be replayed. */
function interruptionPoints(seed: number, count: number): InterruptionPoint[] {
  const random = seededRandom(seed);
  const fraction = () => Math.round(random() * 1000) / 1000;
  return Array.from({ length: count }, (_, index) => {
    const cut: Cut = index % 2 === 0 ? 'power' : 'unplug';
    const kind = random();
    const at: Trigger =
      kind < 0.5
        ? { committed: Math.min(fraction(), 0.999) }
        : kind < 0.75
          ? { time: fraction() }
          : { reboot: fraction() };
    const offMs = Math.round(random() * (cut === 'power' ? 300 : 500));
    return { name: describePoint(index, cut, at, offMs), cut, at, offMs };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array) =>
  a !== undefined && Buffer.from(a).equals(Buffer.from(b));

type SlotName = 'A' | 'B';
const slotName = (slot: BootSlot): SlotName => (slot === BootSlot.A ? 'A' : 'B');
const otherSlot = (slot: SlotName): SlotName => (slot === 'A' ? 'B' : 'A');
const describeRunning = (answer: HelloResponse) =>
  `${answer.firmwareVersion} from slot ${slotName(answer.activeBootSlot)}`;

let update: Uint8Array;
let factoryImage: Uint8Array;
let updateSha256: Uint8Array;

beforeAll(async () => {
  [factoryImage, update] = await Promise.all([
    buildFirmwareRelease(RELEASES[0]!),
    buildFirmwareRelease(RELEASES[1]!),
  ]);
  updateSha256 = sha256(update);
}, 120_000);

function clientOf(rig: ModuleRig): ServiceClient {
  return new ServiceClient({
    session: rig.host,
    clock: systemClock,
    host: 'e2e',
    setLocalBaudRate: (baudRate) => rig.setHostBaudRate(baudRate),
  });
}

/**
 * HELLO, then the line raised as far as it goes: 921600 here, unless on very loaded CPUs a probe
 * misses its window and the pair settles one rate lower, which is the protocol working (noted).
 * Both ends must agree on the rate either way.
 */
async function connectFast(rig: ModuleRig, notes: string[]): Promise<ServiceClient> {
  const client = clientOf(rig);
  const { baud } = await client.connect();
  const rate = baud?.baudRate ?? 115200;
  if (rate !== 921600) notes.push(`baud negotiation: ${JSON.stringify(baud?.attempts)}`);
  expect(await rig.line.readBaudRates()).toEqual({ app: rate, module: rate });
  return client;
}

/** Power off, the flash back to its factory state, power on: 1.0.0 runs from slot A. */
async function toFactoryState(rig: ModuleRig): Promise<HelloResponse> {
  await rig.module.powerOff();
  if (!rig.line.plugged) await rig.line.plug();
  await rig.restoreFactoryFlash();
  rig.module.powerOn();
  await rig.reconnectHost(); // at 115200, where every session starts
  const answer = await rig.helloWhen(() => true, BOOT_DEADLINE_MS, HELLO_ATTEMPT_MS);
  expect(answer).toMatchObject({
    firmwareVersion: '1.0.0',
    activeBootSlot: BootSlot.A,
    runMode: RunMode.APPLICATION,
  });
  return answer;
}

/** What runs now, at the initial rate; the factory state if a failed round left a mess. */
async function currentState(rig: ModuleRig): Promise<HelloResponse> {
  if (rig.line.plugged && rig.module.poweredOn) {
    await rig.reconnectHost();
    const answer = await rig.helloWhen(() => true, 5000, HELLO_ATTEMPT_MS).catch(() => undefined);
    if (answer?.runMode === RunMode.APPLICATION && VALID_VERSIONS.includes(answer.firmwareVersion))
      return answer;
  }
  return toFactoryState(rig);
}

/** After activation the module reboots at 115200: reconnect, wait for 1.1.0 from `slot`, confirm. */
async function expectUpdateRunning(rig: ModuleRig, slot: SlotName): Promise<void> {
  await rig.reconnectHost();
  const answer = await rig.helloWhen(
    (a) => a.firmwareVersion === '1.1.0' && slotName(a.activeBootSlot) === slot,
    BOOT_DEADLINE_MS,
    HELLO_ATTEMPT_MS,
  );
  expect(answer.runMode).toBe(RunMode.APPLICATION);
  // the new image confirmed itself at start; confirming again is harmless and says what runs
  expect(await clientOf(rig).flashConfirm()).toMatchObject({
    confirmedSlot: slot === 'A' ? BootSlot.A : BootSlot.B,
    firmwareVersion: '1.1.0',
  });
}

interface Timing {
  /** An uninterrupted flash of 1.1.0, from the first chunk to the new image's first HELLO. */
  flashAndRebootMs: number;
  /** Of that, from the activation's answer to the new image's first HELLO. */
  rebootMs: number;
}

/** An uninterrupted flash: the base for time points, and proof the rig works at all. */
async function calibrate(rig: ModuleRig): Promise<Timing> {
  await toFactoryState(rig);
  const client = await connectFast(rig, []);
  const started = performance.now();
  const result = await new FlashSender(client).flash(update, FLASH_OPTIONS);
  const activated = performance.now();
  expect(result.end.firmwareVersion).toBe('1.1.0');
  await rig.reconnectHost();
  await rig.helloWhen((a) => a.firmwareVersion === '1.1.0', BOOT_DEADLINE_MS, 50);
  const answered = performance.now();
  return { flashAndRebootMs: answered - started, rebootMs: answered - activated };
}

type Settled = { ok: true; result: FlashResult } | { ok: false; error: unknown };

/** How the rounds ended, counted for the summary each describe prints. */
type Outcomes = Map<string, number>;
const count = (outcomes: Outcomes, outcome: string) =>
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
const summary = (outcomes: Outcomes) =>
  [...outcomes].map(([outcome, times]) => `${times}x ${outcome}`).join(', ');

/** When the cut came, and the module's flash right after it (power cuts only). */
interface CutReport {
  atMs: number;
  flash?: ModuleFlashState;
}

/**
 * One round: from what runs (or the factory state), flash 1.1.0 into the other slot, interrupted
 * at the point; check what boots; resume; 1.1.0 runs from the other slot, confirmed.
 */
async function interruptAndResume(
  rig: ModuleRig,
  point: InterruptionPoint,
  options: { timing?: Timing; fromFactory: boolean; outcomes: Outcomes },
): Promise<void> {
  const logStart = rig.module.log.length;
  /** What happened in the round, for the failure message. */
  const happened: string[] = [];
  const roundStart = performance.now();
  const note = (what: string) =>
    happened.push(`${what} (+${Math.round(performance.now() - roundStart)} ms)`);
  try {
    const before = options.fromFactory ? await toFactoryState(rig) : await currentState(rig);
    const target = otherSlot(slotName(before.activeBootSlot));
    note(`${describeRunning(before)} before`);
    const total = update.length;
    const client = await connectFast(rig, happened);
    const abort = new AbortController();
    let seen = 0; // highest committed offset the module acknowledged to the host
    let activatedAt: number | undefined;
    let trigger: () => void = () => {};
    let triggerFailed: (error: unknown) => void = () => {};
    const cutDone = new Promise<CutReport>((resolve, reject) => {
      let fired = false;
      trigger = () => {
        if (fired) return;
        fired = true;
        interrupt().then(resolve, reject);
      };
      triggerFailed = reject;
    });
    const startedAt = performance.now();

    async function interrupt(): Promise<CutReport> {
      const atMs = performance.now() - startedAt;
      if (point.cut === 'power') {
        await rig.module.powerOff();
        abort.abort(); // the mechanic's app would time out; no need to wait for that here
        const flash = await rig.readFlash();
        await sleep(point.offMs);
        rig.module.powerOn();
        return { atMs, flash };
      }
      await rig.line.unplug();
      await sleep(point.offMs);
      await rig.line.plug();
      return { atMs };
    }

    const { at } = point;
    if (!('committed' in at) && !options.timing) throw new Error('time points need a calibration');
    if ('time' in at) setTimeout(trigger, at.time * options.timing!.flashAndRebootMs);
    const atCommitted = 'committed' in at ? Math.floor(at.committed * total) : Infinity;
    const first: Settled = await new FlashSender(client)
      .flash(update, {
        ...FLASH_OPTIONS,
        signal: abort.signal,
        onProgress: ({ bytesCommitted }) => {
          seen = Math.max(seen, bytesCommitted);
          if (bytesCommitted >= atCommitted) trigger();
        },
      })
      .then(
        (result) => {
          activatedAt = performance.now();
          if ('reboot' in at) setTimeout(trigger, at.reboot * options.timing!.rebootMs);
          if ('trialBoot' in at) {
            logged(rig, /starting firmware .*\(trial\)/, logStart, BOOT_DEADLINE_MS, 1).then(
              trigger,
              triggerFailed,
            );
          }
          return { ok: true as const, result };
        },
        (error: unknown) => ({ ok: false as const, error }),
      );
    if (!first.ok && !('time' in at) && seen < atCommitted) {
      throw new Error(`the flash failed before the interruption point: ${String(first.error)}`, {
        cause: first.error,
      });
    }
    const cut = await cutDone;
    if (!first.ok) {
      // the host reports what happened: the cable, or (power cut) the abort standing in for the
      // mechanic giving up
      expect(first.error).toMatchObject({
        failure: point.cut === 'unplug' ? 'disconnected' : 'cancelled',
      });
    }
    note(
      `cut ${Math.round(cut.atMs)} ms after the first chunk, ${seen} of ${total} bytes acknowledged, ` +
        (first.ok ? 'first attempt activated' : `first attempt failed: ${String(first.error)}`),
    );

    // Only once every byte was acknowledged can flash_end and flash_activate have run. A module
    // that got the activation and kept its power reboots into the new image by itself: let it
    // start doing so before asking what runs.
    const mayHaveActivated = first.ok || seen >= total;
    if (mayHaveActivated && point.cut === 'unplug') {
      await sleep((activatedAt ?? performance.now()) + REBOOT_SETTLE_MS - performance.now());
    }

    // The module must come up with a valid image, whatever the interruption hit.
    await rig.reconnectHost();
    const after = await rig.helloWhen(() => true, BOOT_DEADLINE_MS, HELLO_ATTEMPT_MS);
    note(`${describeRunning(after)} after the interruption`);
    expect(after.runMode, 'run mode after the interruption').toBe(RunMode.APPLICATION);
    const updated = `1.1.0 from slot ${target}`;
    expect(describeRunning(after), 'image running after the interruption').toBeOneOf(
      mayHaveActivated ? [describeRunning(before), updated] : [describeRunning(before)],
    );
    if ('trialBoot' in at && point.cut === 'power') {
      // cut before the new image could confirm itself: the next boot goes back to the old one
      expect(describeRunning(after)).toBe(describeRunning(before));
      expect(rig.module.log.slice(logStart).join('\n')).toMatch(/never confirmed: reverting/);
    }
    expect(rig.module.log.slice(logStart).join('\n')).not.toMatch(/recovery service/);

    if (describeRunning(after) === updated) count(options.outcomes, 'activation had got through');
    else {
      // a cut between the trial boot and the new image's self-confirmation: the next boot went
      // back to the old image
      if (/never confirmed: reverting/.test(rig.module.log.slice(logStart).join('\n')))
        count(options.outcomes, 'rolled back to the old image, then flashed again');
      const resumeClient = await connectFast(rig, happened);
      const status = await resumeClient.flashStatus();
      note(
        `module reports ${status.committedOffset} bytes committed, flash state ${FlashState[status.state]}`,
      );
      expect(slotName(status.targetSlot)).toBe(target);
      const kept = cut.flash?.slots[target];
      if (kept) {
        note(`slot ${target} ${kept.state} after the cut`);
        // a power cut keeps every byte the module acknowledged, and the slot says so after boot
        if (kept.state === 'writing' && sameBytes(kept.imageSha256, updateSha256)) {
          expect(kept.committedOffset).toBeGreaterThanOrEqual(seen);
        }
        expect(status.committedOffset).toBe(kept.committedOffset);
        if (sameBytes(kept.imageSha256, updateSha256)) {
          // every byte in but not verified yet: still receiving, all of it committed
          if (kept.state === 'complete') {
            expect(status).toMatchObject({
              state: FlashState.RECEIVING,
              committedOffset: status.transferSize,
            });
          }
          if (kept.state === 'verified') expect(status.state).toBe(FlashState.VERIFIED);
        }
      }
      const partial =
        status.state === FlashState.RECEIVING && sameBytes(status.imageSha256, updateSha256);
      // acknowledged bytes are never lost, by an unplug either
      if (partial && seen < total) expect(status.committedOffset).toBeGreaterThanOrEqual(seen);
      const result = await new FlashSender(resumeClient).flash(update, {
        ...FLASH_OPTIONS,
        resume: true,
      });
      note(`resumed from ${result.startOffset}`);
      // Where the interrupted transfer stopped, in transfer bytes (raw or compressed alike): the
      // committed offset while the slot is receiving this image (the whole transfer once the cut
      // came after the last byte was written: the slot is complete), the whole transfer when the
      // slot already holds this image verified (the cut hit flash_end's answer or the
      // activation: straight to flash_end, nothing sent again), otherwise from the start.
      const verifiedCopy =
        status.state === FlashState.VERIFIED && sameBytes(status.imageSha256, updateSha256);
      expect(result.startOffset).toBe(
        partial ? status.committedOffset : verifiedCopy ? result.transferSize : 0,
      );
      count(
        options.outcomes,
        verifiedCopy
          ? 'resumed at flash_end (slot held the image verified)'
          : result.startOffset === result.transferSize
            ? 'resumed with every byte in (slot complete)'
            : result.startOffset > 0
              ? 'resumed from the committed offset'
              : `started over (slot ${FlashState[status.state]})`,
      );
      expect(result.end.firmwareVersion).toBe('1.1.0');
      expect(slotName(result.end.targetSlot)).toBe(target);
      expect(result.activate).toBeDefined();
    }
    await expectUpdateRunning(rig, target);
    note(`1.1.0 from slot ${target} confirmed`);
    if (VERBOSE) console.log(`${point.name}: ${happened.join('; ')}`);
  } catch (error) {
    const log = rig.module.log.slice(logStart).slice(-60).join('\n');
    throw new Error(
      `seed ${SEED}, ${point.name} (${happened.join('; ')}): ${error instanceof Error ? error.message : String(error)}\nmodule log (last 60 lines of the round):\n${log}`,
      { cause: error },
    );
  }
}

describe(`flash interrupted at ${ROUNDS} random points, wire 20x real time (seed ${SEED})`, () => {
  let rig: ModuleRig;
  let timing: Timing;
  const points = interruptionPoints(SEED, ROUNDS);
  const outcomes: Outcomes = new Map();

  beforeAll(async () => {
    rig = await startModuleRig({ factoryImage, timeScale: TIME_SCALE, timeoutMs: 500 });
    timing = await calibrate(rig);
  }, 120_000);

  afterAll(async () => {
    console.log(`flash interruptions, seed ${SEED}: ${summary(outcomes)}`);
    await rig?.close();
  });

  it.each(points.map((point, index) => ({ ...point, fromFactory: index % 5 === 0 })))(
    '$name',
    ({ fromFactory, ...point }) =>
      interruptAndResume(rig, point, { timing, fromFactory, outcomes }),
    60_000,
  );

  // the random time points hit this window only now and then: once for sure
  it('power cut as the trial boot of 1.1.0 starts: rolls back to 1.0.0, then flashes again', () => {
    const at: Trigger = { trialBoot: true };
    const point: InterruptionPoint = {
      name: describePoint(ROUNDS, 'power', at, 100),
      cut: 'power',
      at,
      offMs: 100,
    };
    return interruptAndResume(rig, point, { timing, fromFactory: true, outcomes });
  }, 60_000);

  // nor do they land between flash_end's answer and the activation: the slot holds the image
  // verified, and the resume goes straight to flash_end without sending a byte again
  it.each(['unplug', 'power cut'] as const)(
    '%s after flash_end answered, before the activation: the resume sends nothing again',
    async (cut) => {
      const before = await currentState(rig);
      const target = otherSlot(slotName(before.activeBootSlot));
      const first = await new FlashSender(await connectFast(rig, [])).flash(update, {
        ...FLASH_OPTIONS,
        activate: false,
      });
      expect(first.end.firmwareVersion).toBe('1.1.0');
      if (cut === 'unplug') {
        await rig.line.unplug();
        await rig.line.plug();
      } else {
        await rig.module.powerOff();
        rig.module.powerOn();
      }
      await rig.reconnectHost();
      expect(
        describeRunning(await rig.helloWhen(() => true, BOOT_DEADLINE_MS, HELLO_ATTEMPT_MS)),
      ).toBe(describeRunning(before));
      const client = await connectFast(rig, []);
      expect(await client.flashStatus()).toMatchObject({ state: FlashState.VERIFIED });
      const sender = new FlashSender(client);
      const result = await sender.flash(update, { ...FLASH_OPTIONS, resume: true });
      expect(result.startOffset).toBe(result.transferSize);
      expect(sender.sentOffsets).toEqual([]);
      expect(slotName(result.end.targetSlot)).toBe(target);
      count(outcomes, 'resumed at flash_end (slot held the image verified)');
      await expectUpdateRunning(rig, target);
    },
    60_000,
  );
});

/** Waits until the module logs a line matching `pattern` (after line `from`). */
async function logged(
  rig: ModuleRig,
  pattern: RegExp,
  from: number,
  deadlineMs = 20_000,
  pollMs = 20,
) {
  const start = performance.now();
  while (!rig.module.log.slice(from).some((line) => pattern.test(line))) {
    if (performance.now() - start > deadlineMs) {
      throw new Error(
        `the module never logged ${String(pattern)}:\n${rig.module.log.slice(from).join('\n')}`,
      );
    }
    await sleep(pollMs);
  }
}

/** Power on with the service cable out, plug it in once the module is at `ready`. */
async function powerOnUnplugged(
  rig: ModuleRig,
  ready: RegExp,
  options: { breakSlotA?: boolean } = {},
) {
  await rig.module.powerOff();
  if (!rig.line.plugged) await rig.line.plug();
  await rig.restoreFactoryFlash();
  if (options.breakSlotA) {
    // one flipped payload byte: slot A fails its hash check, slot B is empty: recovery
    const image = join(rig.storageDir, 'slots', 'a', 'image');
    const bytes = await readFile(image);
    bytes[4096] = bytes[4096]! ^ 0xff;
    await writeFile(image, bytes);
  }
  await rig.line.unplug();
  const from = rig.module.log.length;
  rig.module.powerOn();
  await logged(rig, ready, from);
  await sleep(2000); // out long enough for the module to look for its port, even on loaded CPUs
  await rig.line.plug();
  await rig.reconnectHost();
  return from;
}

describe('the service cable out while the module powers on', () => {
  let rig: ModuleRig;

  beforeAll(async () => {
    rig = await startModuleRig({ factoryImage, timeScale: TIME_SCALE, timeoutMs: 500 });
  }, 120_000);

  afterAll(() => rig?.close());

  it('the firmware answers once the cable is plugged in', async () => {
    await powerOnUnplugged(rig, /starting firmware/);
    expect(await rig.helloWhen(() => true, BOOT_DEADLINE_MS, HELLO_ATTEMPT_MS)).toMatchObject({
      firmwareVersion: '1.0.0',
      runMode: RunMode.APPLICATION,
    });
  }, 60_000);

  // A module in a car runs without the cable: the firmware waits for the port as it does after an
  // unplug, instead of exiting (and being restarted by the boot loader again and again).
  it('the firmware waits for the cable without crashing', async () => {
    const from = await powerOnUnplugged(rig, /starting firmware/);
    await rig.helloWhen(() => true, BOOT_DEADLINE_MS, HELLO_ATTEMPT_MS);
    expect(rig.module.log.slice(from).join('\n')).not.toMatch(/stopped with code/);
  }, 60_000);

  // The boot loader's recovery service waits for the port the same way (it used to end the boot
  // loader process: the module never answered until its 12 V supply was cut and restored).
  it('the recovery service answers once the cable is plugged in', async () => {
    await powerOnUnplugged(rig, /serving the recovery service/, { breakSlotA: true });
    expect(await rig.helloWhen(() => true, 3000, HELLO_ATTEMPT_MS)).toMatchObject({
      runMode: RunMode.RECOVERY,
    });
  }, 60_000);
});

describe(`flash interrupted at real speed, 921600 baud (seed ${SEED})`, () => {
  let rig: ModuleRig;
  const random = seededRandom(SEED ^ 0x5eed);
  const fraction = (from: number, span: number) =>
    Math.round((from + span * random()) * 1000) / 1000;
  const points: InterruptionPoint[] = (
    [
      ['power', fraction(0.1, 0.8), 200],
      ['unplug', fraction(0.1, 0.8), 300],
      ['power', fraction(0.95, 0.04), 100],
    ] as const
  ).map(([cut, committed, offMs], index) => ({
    name: describePoint(index, cut, { committed }, offMs),
    cut,
    at: { committed },
    offMs,
  }));

  const outcomes: Outcomes = new Map();

  beforeAll(async () => {
    rig = await startModuleRig({ factoryImage, timeScale: 1, timeoutMs: 2000 });
  }, 120_000);

  afterAll(async () => {
    console.log(`flash interruptions at real speed, seed ${SEED}: ${summary(outcomes)}`);
    await rig?.close();
  });

  it.each(points)(
    '$name',
    (point) => interruptAndResume(rig, point, { fromFactory: true, outcomes }),
    120_000,
  );
});
