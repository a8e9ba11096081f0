import { describe, expect, it } from 'vitest';
import { systemClock } from '../clock/index.js';
import { PROTOCOL_VERSION } from '../messages/index.js';
import type { ByteChannel } from './channel.js';
import { BaudRateFollower, INITIAL_BAUD_RATE, negotiateBaudRate } from './baud.js';
import { ServiceSession } from './service-session.js';

/**
 * A cable between two ends that each have a line rate: bytes arrive intact only when both ends
 * use the same rate and the cable carries that rate; otherwise the receiver sees garbage.
 */
function ratedCable(carries: (rate: number) => boolean) {
  const rates = { host: INITIAL_BAUD_RATE, module: INITIAL_BAUD_RATE };
  type Name = keyof typeof rates;
  const listeners: Record<Name, Set<(bytes: Uint8Array) => void>> = {
    host: new Set(),
    module: new Set(),
  };
  const end = (self: Name, peer: Name): ByteChannel => ({
    write(bytes) {
      const intact = rates.host === rates.module && carries(rates[self]);
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
    carries?: (rate: number) => boolean;
    moduleRates?: number[];
    hostBelieves?: number[];
  } = {},
) {
  const cable = ratedCable(options.carries ?? (() => true));
  const moduleRates = options.moduleRates ?? [921600, 460800, 115200];
  const host = new ServiceSession({ channel: cable.host, clock: systemClock, timeoutMs: 200 });
  const module = new ServiceSession({ channel: cable.module, clock: systemClock });
  const follower = new BaudRateFollower(module, {
    clock: systemClock,
    rates: moduleRates,
    revertAfterMs: 120,
    setLocalBaudRate: async (rate) => {
      cable.rates.module = rate;
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
  return { cable, follower, negotiate, host };
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
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(follower.baudRate).toBe(921600);
    expect((await host.request('hello', {})).baudRates).toContain(921600);
  });

  it('falls back to the next rate when the cable does not carry the fastest', async () => {
    const { cable, follower, negotiate } = setup({ carries: (rate) => rate <= 460800 });
    const result = await negotiate();
    expect(result.attempts).toEqual([
      { baudRate: 921600, outcome: 'no frames at this rate' },
      { baudRate: 460800, outcome: 'in use' },
    ]);
    expect(cable.rates).toEqual({ host: 460800, module: 460800 });
    expect(follower.baudRate).toBe(460800);
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
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(cable.rates.module).toBe(921600);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(follower.baudRate).toBe(INITIAL_BAUD_RATE);
    expect(cable.rates.module).toBe(INITIAL_BAUD_RATE);
    expect((await host.request('hello', {})).protocolMajor).toBe(PROTOCOL_VERSION.major);
  });

  it('refuses a rate the module does not support, and stays', async () => {
    const { cable, host } = setup({ moduleRates: [115200] });
    await expect(host.request('baudChange', { baudRate: 921600 })).rejects.toMatchObject({
      failure: 'rejected',
    });
    expect(cable.rates.module).toBe(INITIAL_BAUD_RATE);
  });
});
