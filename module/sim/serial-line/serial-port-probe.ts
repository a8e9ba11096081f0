import { SerialPort } from 'serialport';

export interface PortClosed {
  /**
   * True when the port closed without `close()` being called: the device vanished. serialport
   * says so with `disconnected` on the close when it notices the hangup itself, but when a
   * write finds it (EIO) the stream is torn down with a plain 'error' and 'close'.
   */
  disconnected: boolean;
  message?: string;
}

/**
 * Test plumbing: a real `serialport` SerialPort opened on a line end, which collects what it
 * receives so tests can wait for bytes. Bytes only, no protocol (that is shared-protocol's).
 */
export class SerialPortProbe {
  /** Settles when the port closes, on purpose or because the device vanished. */
  readonly closed: Promise<PortClosed>;
  /** The last 'error' the port emitted, if any (kept so errors never go unhandled). */
  lastError: Error | undefined;
  private closing = false;
  private chunks: Buffer[] = [];
  private length = 0;
  private waiter: (() => void) | undefined;

  private constructor(readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.waiter?.();
    });
    port.on('error', (error: Error) => {
      this.lastError = error;
    });
    this.closed = new Promise((resolve) => {
      port.once('close', (error?: Error) => {
        const message = error?.message ?? this.lastError?.message;
        resolve({ disconnected: !this.closing, ...(message === undefined ? {} : { message }) });
        this.waiter?.();
      });
    });
  }

  static open(path: string, baudRate: number): Promise<SerialPortProbe> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate }, (error) => {
        if (error) reject(error);
        else resolve(new SerialPortProbe(port));
      });
    });
  }

  /** Bytes received and not yet read. */
  get available(): number {
    return this.length;
  }

  /** Writes and waits until the pty took the bytes (not until they crossed the line). */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(bytes);
      this.port.drain((error) => (error ? reject(error) : resolve()));
    });
  }

  /** The next `count` bytes; rejects after `timeoutMs` saying how many came. */
  async read(count: number, timeoutMs = 5_000): Promise<Buffer> {
    if (this.length < count) {
      const arrived = await this.until(() => this.length >= count, timeoutMs);
      if (!arrived) {
        throw new Error(`expected ${count} bytes within ${timeoutMs} ms, got ${this.length}`);
      }
    }
    const all = this.readAll();
    const rest = all.subarray(count);
    if (rest.length > 0) {
      this.chunks = [rest];
      this.length = rest.length;
    }
    return all.subarray(0, count);
  }

  /** Everything received so far. */
  readAll(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.length = 0;
    return all;
  }

  /** Everything received once nothing more has arrived for `quietMs`. */
  async readUntilQuiet(quietMs: number): Promise<Buffer> {
    let seen = -1;
    while (seen !== this.length) {
      seen = this.length;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
    return this.readAll();
  }

  update(baudRate: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.port.update({ baudRate }, (error) => (error ? reject(error) : resolve())),
    );
  }

  async close(): Promise<void> {
    if (!this.port.isOpen) return;
    this.closing = true;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  private async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0 || !this.port.isOpen) return condition();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiter = done;
      });
      this.waiter = undefined;
    }
    return true;
  }
}
