import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { channelFromStream } from './stream-channel.js';

/** Two Duplex streams wired back to back, like the two ends of a cable. */
function cable(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const end = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer().push(chunk);
        callback();
      },
    });
  ends.push(
    end(() => ends[1]!),
    end(() => ends[0]!),
  );
  return [ends[0]!, ends[1]!];
}

describe('channelFromStream', () => {
  it('carries bytes both ways', async () => {
    const [a, b] = cable();
    const left = channelFromStream(a);
    const right = channelFromStream(b);
    const received = new Promise<Uint8Array>((resolve) => right.onData(resolve));
    left.write(new Uint8Array([1, 2, 3]));
    expect([...(await received)]).toEqual([1, 2, 3]);
  });

  it('reports a close once, with the error that caused it, and drops later writes', async () => {
    const [a] = cable();
    const channel = channelFromStream(a);
    const reasons: Array<string | undefined> = [];
    channel.onClose((reason) => reasons.push(reason));
    a.destroy(new Error('Port is disconnected'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(reasons).toEqual(['Port is disconnected']);
    expect(() => channel.write(new Uint8Array([1]))).not.toThrow();
  });
});
