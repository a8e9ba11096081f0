import { describe, expect, it } from 'vitest';
import { systemClock } from '../clock/index.js';
import { ErrorCode, PROTOCOL_VERSION } from '../messages/index.js';
import {
  BaudRateFollower,
  createChannelPair,
  ServiceError,
  ServiceSession,
} from '../session/index.js';
import { ServiceClientError } from './errors.js';
import { startFakeModule } from './fake-module.js';
import { FlashSender } from './flash-sender.js';
import { ServiceClient } from './service-client.js';

/** A stand-in for proveServiceAuthorization: marks the proof with the challenge it answers. */
const signProof = (challenge: Uint8Array, serial: string) =>
  Promise.resolve(new Uint8Array([0xaa, challenge[0] ?? 0, serial.length]));

describe('ServiceClient', () => {
  it('connects with HELLO and reports the module', async () => {
    const fake = startFakeModule();
    const client = new ServiceClient({ session: fake.host, clock: systemClock, host: 'test' });
    const { hello, baud } = await client.connect();
    expect(hello.moduleSerial).toBe('MSM-000123');
    expect(client.module?.firmwareVersion).toBe('1.4.2');
    expect(baud).toBeUndefined(); // the host cannot switch its port here
  });

  it('raises the line rate when both ends can switch', async () => {
    const [hostEnd, moduleEnd] = createChannelPair();
    const host = new ServiceSession({ channel: hostEnd, clock: systemClock, timeoutMs: 200 });
    const module = new ServiceSession({ channel: moduleEnd, clock: systemClock });
    const moduleRates: number[] = [];
    const follower = new BaudRateFollower(module, {
      clock: systemClock,
      rates: [921600, 115200],
      setLocalBaudRate: (rate) => Promise.resolve(void moduleRates.push(rate)),
    });
    module.serve({
      hello: () => ({ protocolMajor: PROTOCOL_VERSION.major, baudRates: [921600, 115200] }),
      baudChange: follower.handleBaudChange,
    });
    const hostRates: number[] = [];
    const client = new ServiceClient({
      session: host,
      clock: systemClock,
      host: 'test',
      setLocalBaudRate: (rate) => Promise.resolve(void hostRates.push(rate)),
    });
    const { baud } = await client.connect();
    expect(baud?.baudRate).toBe(921600);
    expect(hostRates).toEqual([921600]);
    expect(moduleRates).toEqual([921600]);
  });

  it('attaches one proof per connection to state-changing requests only', async () => {
    const fake = startFakeModule();
    const client = new ServiceClient({
      session: fake.host,
      clock: systemClock,
      host: 'test',
      signProof,
    });
    await client.connect();
    await client.deviceInfo();
    await client.readFaultCodes();
    await client.clearFaultCodes();
    await client.flashStatus();
    await client.factoryReset('MSM-000123');
    await new FlashSender(client).flash(new Uint8Array(600).fill(7), { chunkSize: 256 });

    const proof = [0xaa, 1, 'MSM-000123'.length];
    expect(fake.state.challenges).toBe(1);
    for (const { kind, proof: seen } of fake.state.authorizations) {
      const stateChanging = !['deviceInfo', 'faultCodesRead', 'flashStatus'].includes(kind);
      expect([kind, [...seen]]).toEqual([kind, stateChanging ? proof : []]);
    }
    const kinds = new Set(fake.state.authorizations.map((a) => a.kind));
    expect(kinds).toEqual(
      new Set([
        'deviceInfo',
        'faultCodesRead',
        'faultCodesClear',
        'flashStatus',
        'factoryReset',
        'flashBegin',
        'flashData',
        'flashEnd',
        'flashActivate',
      ]),
    );
  });

  it('sends no proof and asks no challenge without a signProof', async () => {
    const fake = startFakeModule();
    const client = new ServiceClient({ session: fake.host, clock: systemClock, host: 'test' });
    await client.clearFaultCodes();
    expect(fake.state.challenges).toBe(0);
    expect([...(fake.state.authorizations[0]?.proof ?? [1])]).toEqual([]);
  });

  it('gets a fresh challenge once when the module refuses an earlier proof', async () => {
    const [hostEnd, moduleEnd] = createChannelPair();
    const host = new ServiceSession({ channel: hostEnd, clock: systemClock, timeoutMs: 200 });
    const module = new ServiceSession({ channel: moduleEnd, clock: systemClock });
    let challenges = 0;
    module.serve({
      moduleChallenge: () => ({ nonce: new Uint8Array(32).fill(++challenges) }),
      // the module accepts only answers to its latest challenge (the first one went stale)
      faultCodesClear: (_request, context) => {
        if (context.serviceAuthorization[1] !== challenges) {
          throw new ServiceError(ErrorCode.AUTHORIZATION_INVALID, 'challenge-mismatch');
        }
        return { cleared: 1 };
      },
    });
    const client = new ServiceClient({
      session: host,
      clock: systemClock,
      host: 'test',
      signProof,
    });
    expect((await client.clearFaultCodes()).cleared).toBe(1);
    challenges += 1; // the module moved on
    expect((await client.clearFaultCodes()).cleared).toBe(1);
    expect(challenges).toBe(3);
  });

  it('explains a protocol mismatch and an authorization refusal', async () => {
    const [hostEnd, moduleEnd] = createChannelPair();
    const host = new ServiceSession({ channel: hostEnd, clock: systemClock, timeoutMs: 200 });
    const module = new ServiceSession({ channel: moduleEnd, clock: systemClock });
    module.serve({
      hello: () => ({ protocolMajor: PROTOCOL_VERSION.major + 1 }),
      factoryReset: () => {
        throw new ServiceError(ErrorCode.AUTHORIZATION_REQUIRED, 'missing');
      },
    });
    const client = new ServiceClient({ session: host, clock: systemClock, host: 'test' });
    await expect(client.connect()).rejects.toMatchObject({
      failure: 'protocol-mismatch',
      next: 'update',
    });
    const error = await client.factoryReset('MSM-000123').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceClientError);
    expect((error as Error).message).toMatch(/registered station/);
  });
});
