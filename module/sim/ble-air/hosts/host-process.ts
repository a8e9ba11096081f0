import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What a host process reports (see host-protocol.ts for the shapes). */
export interface HostEvent {
  event: string;
  [detail: string]: unknown;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPTS = {
  peripheral: join(HERE, 'peripheral-process.ts'),
  central: join(HERE, 'central-process.ts'),
} as const;
const READY_TIMEOUT_MS = 20_000;
// tsx's loader by absolute URL, so hosts start whatever the working directory.
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

// Children still running, killed if this process exits without stopping them.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * A demo host (bleno peripheral or noble central, see hosts/) in its own Node process, driven
 * over IPC: how tests put the two stacks in separate processes, as on real devices.
 */
export class HostProcess extends EventEmitter<{ event: [HostEvent] }> {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void }
  >();
  readonly events: HostEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly child: ChildProcess) {
    super();
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    child.on('message', (message: HostEvent | Reply) => {
      if ('id' in message && typeof message.id === 'number') {
        const reply = message as Reply;
        const waiter = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
        else waiter?.resolve(reply.result);
        return;
      }
      this.events.push(message as HostEvent);
      this.emit('event', message as HostEvent);
    });
    void this.exited.then(({ code, signal }) => {
      running.delete(child);
      for (const waiter of this.pending.values()) {
        waiter.reject(new Error(`host process exited (${signal ?? `code ${code}`})`));
      }
      this.pending.clear();
    });
  }

  /** Starts a demo host on `port` and waits until it reports `ready`. */
  static async start(kind: keyof typeof SCRIPTS, args: string[]): Promise<HostProcess> {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const child of running) child.kill('SIGKILL');
      });
    }
    const child = fork(SCRIPTS[kind], args, {
      execArgv: ['--import', TSX_LOADER],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    running.add(child);
    const host = new HostProcess(child);
    await host.waitFor('ready', READY_TIMEOUT_MS);
    return host;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Asks the host to do `op`; rejects with the host's error message. */
  request<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, op, ...args });
    });
  }

  /** The first event named `name` (already seen or still to come) that `match` accepts. */
  waitFor(
    name: string,
    timeoutMs = 10_000,
    match: (event: HostEvent) => boolean = () => true,
  ): Promise<HostEvent> {
    const seen = this.events.find((event) => event.event === name && match(event));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('event', onEvent);
        reject(new Error(`host process did not report ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onEvent = (event: HostEvent) => {
        if (event.event !== name || !match(event)) return;
        clearTimeout(timer);
        this.off('event', onEvent);
        resolve(event);
      };
      this.on('event', onEvent);
    });
  }

  /** Kills the process (SIGKILL: a crash; SIGTERM: it stops its stack first). */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}
