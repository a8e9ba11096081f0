/**
 * The one thing the session needs from a transport: a duplex byte stream. A serial port, a pipe,
 * a WebSocket or an in-memory pair all fit.
 */
export interface ByteChannel {
  write(bytes: Uint8Array): void;
  /** Returns a function that removes the listener. */
  onData(listener: (bytes: Uint8Array) => void): () => void;
  /** Called once when the stream ends for good (unplugged, closed). */
  onClose(listener: (reason?: string) => void): () => void;
}

/**
 * Two connected in-memory channels, delivering asynchronously (as real streams do) so that
 * request/response code cannot accidentally rely on synchronous delivery.
 */
export function createChannelPair(): [
  ByteChannel & { close(): void },
  ByteChannel & { close(): void },
] {
  type Side = {
    data: Set<(bytes: Uint8Array) => void>;
    close: Set<(reason?: string) => void>;
    closed: boolean;
  };
  const sides: [Side, Side] = [
    { data: new Set(), close: new Set(), closed: false },
    { data: new Set(), close: new Set(), closed: false },
  ];
  const closeBoth = (reason: string) => {
    for (const side of sides) {
      if (side.closed) continue;
      side.closed = true;
      queueMicrotask(() => side.close.forEach((listener) => listener(reason)));
    }
  };
  const make = (self: Side, peer: Side) => ({
    write(bytes: Uint8Array) {
      if (self.closed) return;
      const copy = bytes.slice();
      queueMicrotask(() => {
        if (!peer.closed) peer.data.forEach((listener) => listener(copy));
      });
    },
    onData(listener: (bytes: Uint8Array) => void) {
      self.data.add(listener);
      return () => self.data.delete(listener);
    },
    onClose(listener: (reason?: string) => void) {
      self.close.add(listener);
      return () => self.close.delete(listener);
    },
    close: () => closeBoth('closed'),
  });
  return [make(sides[0], sides[1]), make(sides[1], sides[0])];
}
