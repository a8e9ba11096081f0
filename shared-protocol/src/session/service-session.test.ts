import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { encodeFrame, FrameDecoder } from '../framing/index.js';
import { ErrorCode, Operation, PROTOCOL_VERSION, type Event } from '../messages/index.js';
import { createChannelPair, type ByteChannel } from './channel.js';
import {
  CancelledError,
  DisconnectedError,
  ProtocolMismatchError,
  RejectedError,
  ServiceError,
  TimeoutError,
} from './errors.js';
import { hello } from './hello.js';
import { FrameType, ServiceSession, type RequestHandlers } from './service-session.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const helloAnswer = {
  protocolMajor: PROTOCOL_VERSION.major,
  protocolMinor: PROTOCOL_VERSION.minor,
  moduleSerial: 'MSM-000123',
  hardwareRevision: 'C',
  firmwareVersion: '1.4.2',
};

/** A channel wrapper that lets a test drop chosen frames going through it. */
function lossy(
  channel: ByteChannel,
  dropWhen: (type: number, seq: number) => boolean,
): ByteChannel {
  const decoder = new FrameDecoder();
  return {
    ...channel,
    write(bytes) {
      for (const frame of decoder.push(bytes)) {
        if (!dropWhen(frame.type, frame.seq)) channel.write(encodeFrame(frame));
      }
    },
    onData: (listener) => channel.onData(listener),
    onClose: (listener) => channel.onClose(listener),
  };
}

function setup(handlers: RequestHandlers, moduleChannel?: (c: ByteChannel) => ByteChannel) {
  const clock = new ManualClock();
  const [hostEnd, moduleEnd] = createChannelPair();
  const host = new ServiceSession({ channel: hostEnd, clock, timeoutMs: 1000, retries: 2 });
  const module = new ServiceSession({
    channel: moduleChannel ? moduleChannel(moduleEnd) : moduleEnd,
    clock,
  });
  module.serve(handlers);
  return { clock, host, module, hostEnd, moduleEnd };
}

describe('ServiceSession', () => {
  it('answers a request with the typed response of its kind', async () => {
    const { host } = setup({ hello: () => helloAnswer });
    const response = await host.request('hello', { protocolMajor: 1, host: 'test' });
    expect(response.moduleSerial).toBe('MSM-000123');
    expect(response.firmwareVersion).toBe('1.4.2');
  });

  it('hands the service authorization and the request to the handler', async () => {
    let seen: Uint8Array | undefined;
    const { host } = setup({
      factoryReset: (request, context) => {
        seen = context.serviceAuthorization;
        expect(request.confirmModuleSerial).toBe('MSM-000123');
        return { rebootInMs: 500 };
      },
    });
    const authorization = new Uint8Array([1, 2, 3]);
    const response = await host.request(
      'factoryReset',
      { confirmModuleSerial: 'MSM-000123' },
      { serviceAuthorization: authorization },
    );
    expect(response.rebootInMs).toBe(500);
    expect(seen).toEqual(authorization);
  });

  it('rejects with the code the module chose', async () => {
    const { host } = setup({
      flashBegin: () => {
        throw new ServiceError(ErrorCode.SUPPLY_VOLTAGE_LOW, 'Supply 12.1 V', {
          millivolts: '12100',
        });
      },
    });
    const error = await host.request('flashBegin', { imageSize: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RejectedError);
    expect(error).toMatchObject({
      failure: 'rejected',
      code: ErrorCode.SUPPLY_VOLTAGE_LOW,
      details: { millivolts: '12100' },
    });
  });

  it('answers UNSUPPORTED for a kind the module does not serve, INTERNAL for a crash', async () => {
    const { host } = setup({
      logRead: () => {
        throw new TypeError('boom');
      },
    });
    await expect(host.request('selfTestRun', {})).rejects.toMatchObject({
      code: ErrorCode.UNSUPPORTED,
    });
    await expect(host.request('logRead', {})).rejects.toMatchObject({ code: ErrorCode.INTERNAL });
  });

  it('answers even when the answer or the error message would not fit in one frame', async () => {
    const { host } = setup({
      // a handler's answer larger than a frame: INTERNAL instead of no answer (and no crash)
      logRead: () => ({
        entries: Array.from({ length: 400 }, (_, i) => ({
          sequence: BigInt(i),
          message: 'x'.repeat(200),
        })),
      }),
      // an error quoting a huge host input: clipped so it fits
      factoryReset: (request) => {
        throw new ServiceError(ErrorCode.BAD_REQUEST, `Not ${request.confirmModuleSerial}`, {
          named: request.confirmModuleSerial,
        });
      },
    });
    const tooBig = await host.request('logRead', {}).catch((e: unknown) => e);
    expect(tooBig).toMatchObject({ code: ErrorCode.INTERNAL });
    expect((tooBig as Error).message).toMatch(/does not fit in one frame/);
    const clipped = await host
      .request('factoryReset', { confirmModuleSerial: 'y'.repeat(10_000) })
      .catch((e: unknown) => e);
    expect(clipped).toMatchObject({ code: ErrorCode.BAD_REQUEST });
    expect((clipped as Error).message.length).toBeLessThan(1200);
    expect((clipped as RejectedError).details['named']?.length).toBeLessThanOrEqual(200);
  });

  it('repeats an idempotent request after a timeout and gives up with Timeout', async () => {
    const { host, clock } = setup({}, (c) => lossy(c, () => true)); // module never answers
    const result = host.request('deviceInfo', {}).catch((e: unknown) => e);
    await settle();
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await settle();
    }
    const error = await result;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ failure: 'timeout', attempts: 3, timeoutMs: 1000 });
    expect(host.stats.retransmissions).toBe(2);
  });

  it('never repeats a request that is not idempotent', async () => {
    const { host, clock } = setup({}, (c) => lossy(c, () => true));
    const result = host.request('flashActivate', {}).catch((e: unknown) => e);
    await settle();
    clock.advance(1000);
    await settle();
    expect(await result).toMatchObject({ failure: 'timeout', attempts: 1 });
    expect(host.stats.retransmissions).toBe(0);
  });

  it('answers a repeated request from its cache without running the handler twice', async () => {
    let calls = 0;
    let dropped = false;
    const { host, clock, module } = setup(
      {
        flashData: (request) => {
          calls += 1;
          return { offset: request.offset, committedOffset: request.offset + request.data.length };
        },
      },
      // lose the module's first response
      (c) =>
        lossy(c, (type) => {
          if (type === FrameType.Response && !dropped) return (dropped = true);
          return false;
        }),
    );
    const result = host.request('flashData', { offset: 4096, data: new Uint8Array(16) });
    await settle();
    clock.advance(1000);
    await settle();
    expect(await result).toMatchObject({ offset: 4096, committedOffset: 4112 });
    expect(calls).toBe(1);
    expect(module.stats.repeatedRequests).toBe(1);
  });

  it('matches many requests in flight to their responses, in any order', async () => {
    const { host } = setup({
      flashData: async (request) => {
        // answer later offsets first
        await new Promise((r) => setTimeout(r, 40 - request.offset / 1024));
        return { offset: request.offset, committedOffset: request.offset };
      },
    });
    const offsets = Array.from({ length: 32 }, (_, i) => i * 1024);
    const responses = await Promise.all(
      offsets.map((offset) => host.request('flashData', { offset, data: new Uint8Array(8) })),
    );
    expect(responses.map((r) => r.offset)).toEqual(offsets);
  });

  it('cancels through an AbortSignal and tells the module to stop', async () => {
    let moduleSignal: AbortSignal | undefined;
    const { host } = setup({
      selfTestRun: (_request, context) =>
        new Promise((_resolve, reject) => {
          moduleSignal = context.signal;
          context.signal.addEventListener('abort', () => reject(new Error('stopped')));
        }),
    });
    const controller = new AbortController();
    const result = host.request('selfTestRun', {}, { signal: controller.signal }).catch((e) => e);
    await settle();
    controller.abort();
    expect(await result).toBeInstanceOf(CancelledError);
    await settle();
    expect(moduleSignal?.aborted).toBe(true);
  });

  it('fails pending and later requests with Disconnected when the stream closes', async () => {
    let moduleSignal: AbortSignal | undefined;
    const { host, hostEnd } = setup({
      selfTestRun: (_request, context) => {
        moduleSignal = context.signal;
        return new Promise(() => {});
      },
    });
    const result = host.request('selfTestRun', {}).catch((e: unknown) => e);
    await settle();
    hostEnd.close();
    await settle();
    expect(await result).toBeInstanceOf(DisconnectedError);
    expect(moduleSignal?.aborted).toBe(true);
    await expect(host.request('hello', {})).rejects.toBeInstanceOf(DisconnectedError);
  });

  it('refuses a module with another protocol major', async () => {
    const { host } = setup({ hello: () => ({ ...helloAnswer, protocolMajor: 2 }) });
    const error = await hello(host, 'test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolMismatchError);
    expect((error as Error).message).toMatch(/protocol 2\.0.*Update the workshop app/);
  });

  it('accepts a module with the same major and another minor', async () => {
    const { host } = setup({ hello: () => ({ ...helloAnswer, protocolMinor: 7 }) });
    expect((await hello(host, 'test')).protocolMinor).toBe(7);
  });

  it('reports a response of the wrong kind or an undecodable one as ProtocolMismatch', async () => {
    const clock = new ManualClock();
    const [hostEnd, moduleEnd] = createChannelPair();
    const host = new ServiceSession({ channel: hostEnd, clock });
    const decoder = new FrameDecoder();
    moduleEnd.onData((bytes) => {
      for (const frame of decoder.push(bytes)) {
        // answer every request with garbage protobuf
        moduleEnd.write(
          encodeFrame({
            type: FrameType.Response,
            seq: frame.seq,
            payload: new Uint8Array([0xff]),
          }),
        );
      }
    });
    await expect(host.request('hello', {})).rejects.toBeInstanceOf(ProtocolMismatchError);
  });

  it('delivers events in order and counts the ones lost on the way', async () => {
    let eventCount = 0;
    const { host, module } = setup({}, (c) =>
      lossy(c, (type) => type === FrameType.Event && ++eventCount === 2),
    );
    const seen: Event[] = [];
    host.onEvent((event) => seen.push(event));
    for (let i = 0; i < 4; i++) {
      module.emit({ body: { case: 'log', value: { sequence: BigInt(i), message: `line ${i}` } } });
    }
    await settle();
    expect(seen.map((e) => (e.body.case === 'log' ? e.body.value.message : ''))).toEqual([
      'line 0',
      'line 2',
      'line 3',
    ]);
    expect(host.stats.eventsMissed).toBe(1);
  });

  it('sends progress events tied to the request', async () => {
    const { host } = setup({
      selfTestRun: (_request, context) => {
        context.progress(Operation.SELF_TEST, 1, 3, 'central lock');
        return { results: [] };
      },
    });
    const events: Event[] = [];
    host.onEvent((event) => events.push(event));
    await host.request('selfTestRun', {});
    expect(events[0]?.body).toMatchObject({
      case: 'progress',
      value: { operation: Operation.SELF_TEST, done: 1n, total: 3n, message: 'central lock' },
    });
  });

  it('ignores line garbage and frame types it does not know', async () => {
    const { host, moduleEnd } = setup({ hello: () => helloAnswer });
    moduleEnd.write(new Uint8Array([0x13, 0x37, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00]));
    moduleEnd.write(encodeFrame({ type: 0x7f, seq: 9, payload: new Uint8Array([1]) }));
    expect((await host.request('hello', {})).moduleSerial).toBe('MSM-000123');
    expect(host.stats.framesDropped).toBeGreaterThan(0);
  });

  it('skips sequence numbers still waiting when the 16-bit counter wraps', async () => {
    let release: (() => void) | undefined;
    const { host } = setup({
      selfTestRun: () => new Promise((resolve) => (release = () => resolve({ results: [] }))),
      deviceInfo: () => ({ moduleSerial: 'MSM-000123' }),
    });
    // seq 1 stays waiting (a long self-test, no timeout) while the counter wraps past it
    const held = host.request('selfTestRun', {}, { timeoutMs: 3_600_000 });
    for (let sent = 0; sent < 66_000; sent += 6_000) {
      const batch = Array.from({ length: 6_000 }, () => host.request('deviceInfo', {}));
      for (const response of await Promise.all(batch))
        expect(response.moduleSerial).toBe('MSM-000123');
    }
    release?.();
    expect((await held).results).toEqual([]);
    expect(host.stats.unmatchedResponses).toBe(0);
  }, 60_000);
});
