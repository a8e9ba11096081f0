import { describe, expect, it } from 'vitest';
import { systemClock } from '../clock/index.js';
import { FrameDecoder, type Frame } from '../framing/index.js';
import { PROTOCOL_VERSION } from '../messages/index.js';
import type { ByteChannel } from './channel.js';
import { BaudRateFollower, INITIAL_BAUD_RATE, negotiateBaudRate } from './baud.js';
import { FrameType } from './frame-type.js';
import { ServiceSession } from './service-session.js';

type End = 'host' | 'module';

/** The module's revert time in these tests; each probe or confirmation attempt gets a fifth. */
const REVERT_AFTER_MS = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A cable between two ends that each have a line rate: bytes arrive intact only when both ends
 * use the same rate and the cable carries that rate in the sender's direction; otherwise the
 * receiver sees garbage. `drop` loses single intact frames (each write is one frame).
 */
function ratedCable(
  carries: (rate: number, from: End) => boolean,
  drop: (from: End, frame: Frame, rate: number) => boolean = () => false,
) {
  const rates = { host: INITIAL_BAUD_RATE, module: INITIAL_BAUD_RATE };
  const listeners: Record<End, Set<(bytes: Uint8Array) => void>> = {
    host: new Set(),
    module: new Set(),
  };
  const end = (self: End, peer: End): ByteChannel => ({
    write(bytes) {
      const intact = rates.host === rates.module && carries(rates[self], self);
      if (intact && new FrameDecoder().push(bytes).some((f) => drop(self, f, rates[self]))) return;
      const seen = intact ? bytes.slice() : bytes.map((b, i) => (b * 7 + i + 1) & 0xff);
      queueMicrotask(() => listeners[peer].forEach((listener) => listener(seen)));
    },
    onData(listener) {
      listeners[self].add(listener);
      return () => listeners[self].delete(listener);
    },
    onClose: () => () => {},
  });
  return { rates, host: end('host', 'module'), module: end('module', 'host') };
}

function setup(
  options: {
    carries?: (rate: number, from: End) => boolean;
    drop?: (from: End, frame: Frame, rate: number) => boolean;
    moduleRates?: number[];
    hostBelieves?: number[];
  } = {},
) {
  const cable = ratedCable(options.carries ?? (() => true), options.drop);
  const moduleRates = options.moduleRates ?? [921600, 460800, 115200];
  const host = new ServiceSession({ channel: cable.host, clock: systemClock, timeoutMs: 200 });
  const module = new ServiceSession({ channel: cable.module, clock: systemClock });
  /** Every rate the module switched to, in order. */
  const moduleSwitches: number[] = [];
  const follower = new BaudRateFollower(module, {
    clock: systemClock,
    rates: moduleRates,
    revertAfterMs: REVERT_AFTER_MS,
    setLocalBaudRate: async (rate) => {
      cable.rates.module = rate;
      moduleSwitches.push(rate);
    },
  });
  module.serve({
    hello: () => ({ protocolMajor: PROTOCOL_VERSION.major, baudRates: moduleRates }),
    baudChange: follower.handleBaudChange,
  });
  const negotiate = () =>
    negotiateBaudRate(host, {
      clock: systemClock,
      host: 'test',
      moduleRates: options.hostBelieves ?? moduleRates,
      setLocalBaudRate: async (rate) => {
        cable.rates.host = rate;
      },
    });
  return { cable, follower, negotiate, host, module, moduleSwitches };
}

/** Requests the host sent at `rate` that arrived intact, by seq in order of first arrival. */
function requestSeqsAt(rate: number) {
  const seqs: number[] = [];
  return {
    seqs,
    watch(from: End, frame: Frame, atRate: number) {
      if (from === 'host' && atRate === rate && frame.type === FrameType.Request) {
        if (!seqs.includes(frame.seq)) seqs.push(frame.seq);
      }
    },
  };
}

describe('baud negotiation', () => {
  it('raises the line to the fastest rate both ends support', async () => {
    const { cable, follower, negotiate, host } = setup();
    const result = await negotiate();
    expect(result).toEqual({
      baudRate: 921600,
      attempts: [{ baudRate: 921600, outcome: 'in use' }],
    });
    expect(cable.rates).toEqual({ host: 921600, module: 921600 });
    // confirmed: the module stays at the new rate after its revert time
    expect(follower.awaitingConfirmation).toBe(false);
    await sleep(REVERT_AFTER_MS + 100);
    expect(follower.baudRate).toBe(921600);
    expect((await host.request('hello', {})).baudRates).toContain(921600);
  });

  it('costs a correctly negotiating host one round trip more than the probe: baud_change, probe, confirmation', async () => {
    const { negotiate, host, module } = setup({ moduleRates: [921600, 115200] });
    const sentBefore = host.stats.framesSent;
    await negotiate();
    expect(host.stats.framesSent - sentBefore).toBe(3);
    expect(host.stats.retransmissions).toBe(0);
    expect(module.stats.framesSent).toBe(3);
  });

  it('falls back to the next rate when the cable does not carry the fastest', async () => {
    const { cable, follower, negotiate, moduleSwitches } = setup({
      carries: (rate) => rate <= 460800,
    });
    const result = await negotiate();
    expect(result.attempts).toEqual([
      { baudRate: 921600, outcome: 'no frames at this rate' },
      { baudRate: 460800, outcome: 'in use' },
    ]);
    expect(cable.rates).toEqual({ host: 460800, module: 460800 });
    expect(follower.baudRate).toBe(460800);
    expect(moduleSwitches).toEqual([921600, 115200, 460800]);
  });

  it('falls back when only the module-to-host direction cannot carry the fastest rate', async () => {
    // the module hears the probe at 921600 and answers, but its answer arrives as garbage
    const probes = requestSeqsAt(921600);
    const { cable, follower, negotiate, moduleSwitches, module } = setup({
      carries: (rate, from) => from === 'host' || rate <= 460800,
      drop: (from, frame, rate) => (probes.watch(from, frame, rate), false),
    });
    const result = await negotiate();
    expect(result.attempts).toEqual([
      { baudRate: 921600, outcome: 'no frames at this rate' },
      { baudRate: 460800, outcome: 'in use' },
    ]);
    // one probe (the same seq three times, answered from the cache): never a confirmation
    expect(probes.seqs).toHaveLength(1);
    expect(module.stats.repeatedRequests).toBe(2);
    expect(moduleSwitches).toEqual([921600, 115200, 460800]);
    expect(cable.rates).toEqual({ host: 460800, module: 460800 });
    await sleep(REVERT_AFTER_MS + 100);
    expect(follower.baudRate).toBe(460800);
  });

  it('falls back when only the host-to-module direction cannot carry the fastest rate', async () => {
    const { cable, negotiate, moduleSwitches } = setup({
      carries: (rate, from) => from === 'module' || rate <= 460800,
    });
    expect((await negotiate()).attempts).toEqual([
      { baudRate: 921600, outcome: 'no frames at this rate' },
      { baudRate: 460800, outcome: 'in use' },
    ]);
    expect(moduleSwitches).toEqual([921600, 115200, 460800]);
    expect(cable.rates).toEqual({ host: 460800, module: 460800 });
  });

  it('probe answered but every answer lost: both ends back at the old rate, and the link answers', async () => {
    const { cable, follower, negotiate, host, moduleSwitches } = setup({
      moduleRates: [921600, 115200],
      drop: (from, frame, rate) =>
        from === 'module' && rate === 921600 && frame.type === FrameType.Response,
    });
    const result = await negotiate();
    expect(result).toEqual({
      baudRate: 115200,
      attempts: [
        { baudRate: 921600, outcome: 'no frames at this rate' },
        { baudRate: 115200, outcome: 'in use' },
      ],
    });
    expect(moduleSwitches).toEqual([921600, 115200]);
    expect(follower.baudRate).toBe(INITIAL_BAUD_RATE);
    expect(cable.rates).toEqual({ host: 115200, module: 115200 });
    expect((await host.request('hello', {})).protocolMajor).toBe(PROTOCOL_VERSION.major);
  });

  it('confirmation lost: both ends revert, and the link answers at the old rate', async () => {
    const requests = requestSeqsAt(921600);
    const { cable, follower, negotiate, host, moduleSwitches } = setup({
      moduleRates: [921600, 115200],
      // every request at 921600 after the probe (the confirmation and its retry) is lost
      drop: (from, frame, rate) => {
        requests.watch(from, frame, rate);
        return requests.seqs.indexOf(frame.seq) >= 1 && from === 'host' && rate === 921600;
      },
    });
    const result = await negotiate();
    expect(result.attempts).toEqual([
      { baudRate: 921600, outcome: 'not confirmed' },
      { baudRate: 115200, outcome: 'in use' },
    ]);
    expect(requests.seqs).toHaveLength(2); // the probe, and the confirmation (sent twice)
    expect(moduleSwitches).toEqual([921600, 115200]);
    expect(follower.baudRate).toBe(INITIAL_BAUD_RATE);
    expect(cable.rates).toEqual({ host: 115200, module: 115200 });
    expect((await host.request('hello', {})).protocolMajor).toBe(PROTOCOL_VERSION.major);
  });

  it('confirmation heard but its answers lost: the host finds the module at the new rate', async () => {
    const requests = requestSeqsAt(921600);
    const { cable, follower, negotiate, host } = setup({
      moduleRates: [921600, 115200],
      drop: (from, frame, rate) => {
        requests.watch(from, frame, rate);
        // the answers to the confirmation (the second request at 921600) are lost
        return from === 'module' && rate === 921600 && frame.seq === requests.seqs[1];
      },
    });
    const result = await negotiate();
    expect(result).toEqual({
      baudRate: 921600,
      attempts: [
        { baudRate: 921600, outcome: 'not confirmed' },
        { baudRate: 921600, outcome: 'in use' },
      ],
    });
    expect(cable.rates).toEqual({ host: 921600, module: 921600 });
    expect(follower.baudRate).toBe(921600);
    expect((await host.request('hello', {})).protocolMajor).toBe(PROTOCOL_VERSION.major);
  });

  it('stays at the initial rate when nothing faster works, and the link still answers', async () => {
    const { cable, negotiate, host } = setup({ carries: (rate) => rate === INITIAL_BAUD_RATE });
    const result = await negotiate();
    expect(result.baudRate).toBe(INITIAL_BAUD_RATE);
    expect(result.attempts.map((a) => a.outcome)).toEqual([
      'no frames at this rate',
      'no frames at this rate',
      'in use',
    ]);
    expect(cable.rates).toEqual({ host: 115200, module: 115200 });
    expect((await host.request('hello', {})).protocolMajor).toBe(PROTOCOL_VERSION.major);
  });

  it('tries only rates the module announced', async () => {
    const { cable, negotiate } = setup({ moduleRates: [460800, 115200] });
    expect((await negotiate()).baudRate).toBe(460800);
    expect(cable.rates.module).toBe(460800);
  });

  it('records a rate the module refuses and moves on', async () => {
    // the host believes the module also does 921600 (say, from a stale HELLO)
    const { negotiate, cable } = setup({
      moduleRates: [460800, 115200],
      hostBelieves: [921600, 460800, 115200],
    });
    const result = await negotiate();
    expect(result.attempts).toEqual([
      { baudRate: 921600, outcome: 'refused' },
      { baudRate: 460800, outcome: 'in use' },
    ]);
    expect(cable.rates).toEqual({ host: 460800, module: 460800 });
  });

  it('the module returns to the old rate when the host does not follow', async () => {
    const { cable, follower, host } = setup();
    await host.request('baudChange', { baudRate: 921600 });
    await sleep(10);
    expect(cable.rates.module).toBe(921600);
    await sleep(REVERT_AFTER_MS + 50);
    expect(follower.baudRate).toBe(INITIAL_BAUD_RATE);
    expect(cable.rates.module).toBe(INITIAL_BAUD_RATE);
    expect((await host.request('hello', {})).protocolMajor).toBe(PROTOCOL_VERSION.major);
  });

  it('the module does not keep the new rate for the probe alone, only for a new request after it', async () => {
    const { cable, follower, host } = setup();
    await host.request('baudChange', { baudRate: 921600 });
    cable.rates.host = 921600;
    await sleep(20);
    await host.request('hello', {}); // the probe: answered
    expect(follower.awaitingConfirmation).toBe(true);
    await sleep(REVERT_AFTER_MS);
    expect(follower.baudRate).toBe(INITIAL_BAUD_RATE);
    expect(cable.rates.module).toBe(INITIAL_BAUD_RATE);

    // again, this time with a second request: confirmed
    cable.rates.host = INITIAL_BAUD_RATE;
    await host.request('baudChange', { baudRate: 921600 });
    cable.rates.host = 921600;
    await sleep(20);
    await host.request('hello', {});
    await host.request('hello', {});
    expect(follower.awaitingConfirmation).toBe(false);
    await sleep(REVERT_AFTER_MS + 50);
    expect(follower.baudRate).toBe(921600);
  });

  it('refuses a rate the module does not support, and stays', async () => {
    const { cable, host } = setup({ moduleRates: [115200] });
    await expect(host.request('baudChange', { baudRate: 921600 })).rejects.toMatchObject({
      failure: 'rejected',
    });
    expect(cable.rates.module).toBe(INITIAL_BAUD_RATE);
  });
});
