import type { ByteChannel } from './channel.js';

/**
 * The shape of a Node duplex stream (a `serialport` SerialPort, a socket, a pipe) as far as the
 * session needs it. Structural, so shared-protocol stays free of I/O imports.
 */
export interface DuplexStreamLike {
  write(chunk: Uint8Array): unknown;
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'close' | 'end' | 'error', listener: (detail?: unknown) => void): unknown;
  off(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  off(event: 'close' | 'end' | 'error', listener: (detail?: unknown) => void): unknown;
}

function describe(detail: unknown, fallback: string): string {
  if (detail instanceof Error) return detail.message;
  return fallback;
}

/**
 * A ByteChannel over a Node-style duplex stream. The channel closes once, on the stream's first
 * `close`, `end` or `error` (a serial port that is unplugged emits `close` with an error saying
 * so); writes after that are dropped, since the session already failed its pending requests.
 */
export function channelFromStream(stream: DuplexStreamLike): ByteChannel {
  let closed = false;
  const closeListeners = new Set<(reason?: string) => void>();
  const onEnd = (detail?: unknown) => finish(describe(detail, 'the stream ended'));
  const onClose = (detail?: unknown) => finish(describe(detail, 'the port closed'));
  const onError = (detail?: unknown) => finish(describe(detail, 'the stream failed'));
  function finish(reason: string) {
    if (closed) return;
    closed = true;
    stream.off('end', onEnd);
    stream.off('close', onClose);
    // keep an error listener so a late 'error' cannot crash the process
    for (const listener of closeListeners) listener(reason);
  }
  stream.on('end', onEnd);
  stream.on('close', onClose);
  stream.on('error', onError);
  return {
    write(bytes) {
      if (!closed) stream.write(bytes);
    },
    onData(listener) {
      stream.on('data', listener);
      return () => stream.off('data', listener);
    },
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
  };
}
