import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { constants, open, read } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { BaudReader } from './baud-reader.js';
import { prepareLinkPath, removeLink } from './port-links.js';

export const SOCAT_MISSING_MESSAGE = 'socat not found: apt-get install socat';

export interface PtyEndOptions {
  /** Where the pty's symlink goes; openers use this path. */
  linkPath: string;
  socatPath: string;
  /** Bytes the opener wrote. */
  onData(chunk: Buffer): void;
  /** socat ended without being asked to. */
  onLost(reason: string): void;
  /** Room opened up for writing to the opener (see `room`). */
  onWritable(): void;
}

// Bytes handed to socat that it has not yet written into the pty. Kept small because what is
// in that pipeline when the opener closes its port reaches whoever opens it next, after
// serialport's flush on open: a real adapter's receive FIFO holds a few hundred bytes.
export const DELIVERY_WINDOW_BYTES = 2048;
const READY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 2_000;
// socat's notice once the pty and its link exist, with the fds it relays between.
const TRANSFER_LOOP = /starting data transfer loop with FDs \[(\d+),(\d+)\] and \[(\d+),(\d+)\]/;
// socat's info line after each write (-d -d -d).
const TRANSFER = / transferred (\d+) bytes from (\d+) to (\d+)$/;

const openFile = promisify(open);
const readFile = promisify(read);

// Ends still running, killed synchronously if the process exits without closing its lines.
const liveEnds = new Set<PtyEnd>();
let exitHookInstalled = false;

/**
 * One end of the line: a pty made by socat, linked at a fixed path, whose master side is
 * socat's stdin/stdout. Found out by experiment (socat 1.7.4, Linux 6):
 * - plain `pty,rawer` keeps the slave open inside socat too, so an opener closing its port is
 *   never the last close: the master never reads EIO, socat stays up and the opener can reopen
 *   the same path at once, as often as it likes (a host restart);
 * - `wait-slave` is wrong here: socat polls for the first opener only once a second, closes its
 *   own slave fd, and exits when the opener closes (EIO is EOF for it);
 * - `ignoreeof` changes nothing for ptys while the slave is held, and is not needed;
 * - killing socat hangs the pty up: the opener's `serialport` emits `close` with
 *   `disconnected: true` ("bad file descriptor"), like a USB unplug; socat removes its link on
 *   SIGTERM, so reopening fails with ENOENT until a new socat links the path again;
 * - socat exits ~0.5 s after its stdin reaches EOF, so if this process dies even by SIGKILL,
 *   no socat is left behind;
 * - a pty nobody reads does not stop writes into socat's stdin: the pipe and socat buffer
 *   ~200 KB, which would all reach the next opener after serialport's flush on open. So writes
 *   are paced by socat's own log of what it wrote into the pty (`-d -d -d`, one line per
 *   write), keeping at most DELIVERY_WINDOW_BYTES in between.
 */
export class PtyEnd {
  private stopping = false;
  private exited = false;
  private written = 0;
  private acknowledged = 0;
  private blockedAt: number | undefined;
  private readonly exitedPromise: Promise<void>;

  private constructor(
    readonly linkPath: string,
    private readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    private readonly reader: BaudReader,
    private readonly onWritable: () => void,
  ) {
    this.exitedPromise = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(options: PtyEndOptions): Promise<PtyEnd> {
    const { linkPath } = options;
    prepareLinkPath(linkPath);
    const address = `pty,rawer,link=${linkPath}`;
    const child = spawn(options.socatPath, ['-d', '-d', '-d', address, 'STDIO'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let notices = '';
    const exitReason = (code: number | null, signal: NodeJS.Signals | null) =>
      `socat for ${linkPath} exited (${signal ?? `code ${code}`}): ${notices.trim()}`;
    let onWrittenToPty: (count: number) => void = () => undefined;

    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`socat did not create ${linkPath} within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      child.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(error.code === 'ENOENT' ? new Error(SOCAT_MISSING_MESSAGE) : error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(exitReason(code, signal)));
      });
      let fromStdin = '';
      let toPty = '';
      readLines(child.stderr, (line) => {
        const transfer = TRANSFER.exec(line);
        if (transfer) {
          if (transfer[2] === fromStdin && transfer[3] === toPty) {
            onWrittenToPty(Number(transfer[1]));
          }
          return;
        }
        // The rest are start-up notices and errors: kept for error messages.
        notices = `${notices}${line}\n`.slice(-2000);
        const loop = TRANSFER_LOOP.exec(line);
        if (loop) {
          [toPty, fromStdin] = [loop[2]!, loop[3]!];
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // socat gone: the write fails with EPIPE; the exit handler reports it.
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (chunk: Buffer) => options.onData(chunk));

    try {
      await ready;
      const flags = constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK;
      const fd = await openFile(linkPath, flags);
      const reader = new BaudReader(fd, linkPath);
      const end = new PtyEnd(linkPath, child, reader, options.onWritable);
      onWrittenToPty = (count) => end.acknowledge(count);
      await end.checkTransferLog(fd);
      end.watchExit(exitReason, options.onLost);
      return end;
    } catch (error) {
      child.kill('SIGKILL');
      removeLink(linkPath);
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How many bytes may be written now. */
  get room(): number {
    return this.exited ? 0 : DELIVERY_WINDOW_BYTES - (this.written - this.acknowledged);
  }

  /**
   * Since when there has been no room and no progress: the opener is not reading. Briefly,
   * that is a reader slower than a fast simulated wire; for long, nobody is reading (port
   * closed) and, with no flow control, bytes are lost.
   */
  get blockedSince(): number | undefined {
    return this.blockedAt;
  }

  /** Hands bytes to the opener; at most `room` of them. */
  write(bytes: Uint8Array): void {
    if (this.exited || bytes.length === 0) return;
    this.written += bytes.length;
    this.child.stdin.write(bytes);
    if (this.room <= 0) this.blockedAt ??= performance.now();
  }

  /**
   * Stops taking the opener's bytes while the wire is full: socat blocks on its stdout, stops
   * reading the pty, and the opener's writes wait, as with a real UART's transmit buffer.
   */
  setInputPaused(paused: boolean): void {
    if (paused) this.child.stdout.pause();
    else this.child.stdout.resume();
  }

  readBaudRate(): Promise<number | undefined> {
    return this.reader.read();
  }

  /** Ends socat (the pty hangs up, openers see the device vanish) and removes the link. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.reader.close();
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exitedPromise;
      clearTimeout(timer);
    }
    liveEnds.delete(this);
    removeLink(this.linkPath);
  }

  private acknowledge(count: number): void {
    this.acknowledged += count;
    // Progress restarts the overrun clock; room ends the block.
    this.blockedAt = this.room > 0 ? undefined : performance.now();
    if (this.room > 0) this.onWritable();
  }

  // One byte through the pty proves socat logs its writes as expected (otherwise writes would
  // stall once the window is full); it is read back so no opener ever sees it.
  private async checkTransferLog(fd: number): Promise<void> {
    this.write(Uint8Array.of(0));
    for (let waited = 0; this.acknowledged < 1; waited += 5) {
      if (waited >= READY_TIMEOUT_MS) {
        throw new Error("socat's transfer log was not understood; need socat 1.7 or later");
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      const { bytesRead } = await readFile(fd, Buffer.alloc(1), 0, 1, null).catch(() => ({
        bytesRead: 0,
      }));
      if (bytesRead > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  private watchExit(
    exitReason: (code: number | null, signal: NodeJS.Signals | null) => string,
    onLost: (reason: string) => void,
  ): void {
    liveEnds.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const end of liveEnds) end.killNow();
      });
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      this.exited = true;
      liveEnds.delete(this);
      void this.reader.close();
      if (!this.stopping) onLost(exitReason(code, signal));
    };
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      onExit(this.child.exitCode, this.child.signalCode);
    } else {
      this.child.once('exit', onExit);
    }
  }

  private killNow(): void {
    this.stopping = true;
    this.child.kill('SIGKILL');
    removeLink(this.linkPath);
  }
}

function readLines(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}
