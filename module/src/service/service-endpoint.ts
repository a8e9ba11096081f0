/**
 * The module side of the service link: one session on the service serial port with the handlers
 * the running program (firmware or recovery service) provides, plus baud negotiation.
 *
 * The service cable is out most of the module's life (a module in a car has none), so a port
 * that is not there is the normal case, not an error: the endpoint keeps trying to open it, at
 * power-on as after an unplug, and never throws or rejects because of the port.
 */
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import {
  BAUD_RATES,
  BaudRateFollower,
  ServiceSession,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import { openServiceSerialPort, type ServiceSerialPort } from '../hal/serial-port.js';

/** How long the endpoint waits between attempts to open a port that is not there. */
export const REOPEN_INTERVAL_MS = 250;

export interface ServiceEndpoint {
  /** The session on the port while it is open; undefined while the cable is out. */
  readonly session: ServiceSession | undefined;
  close(): Promise<void>;
}

export interface ServiceEndpointOptions {
  /** Called with each new session (a cable plugged in). */
  onSession?: (session: ServiceSession) => void;
  /** Told when the port is lost or (re)opened; never about each failed attempt. */
  log?: (message: string) => void;
  reopenIntervalMs?: number;
  /** Passed to openServiceSerialPort (tests: a faster path poll). */
  pathPollMs?: number;
}

/**
 * Serves `handlers` on the port, opening it when it appears and reopening the session whenever
 * the line drops (a cable pulled and plugged back in) until closed. Resolves at once, whether or
 * not the port is there yet.
 */
export async function serveServicePort(
  path: string,
  handlers: RequestHandlers,
  options: ServiceEndpointOptions | ((session: ServiceSession) => void) = {},
): Promise<ServiceEndpoint> {
  const {
    onSession,
    log,
    reopenIntervalMs = REOPEN_INTERVAL_MS,
    pathPollMs,
  } = typeof options === 'function' ? { onSession: options } : options;
  let port: ServiceSerialPort | undefined;
  let session: ServiceSession | undefined;
  let closed = false;
  let waiting: Promise<void> | undefined;
  let wake: () => void = () => {};

  function start(current: ServiceSerialPort): ServiceSession {
    const next = new ServiceSession({ channel: current.channel, clock: systemClock });
    const follower = new BaudRateFollower(next, {
      clock: systemClock,
      rates: BAUD_RATES,
      setLocalBaudRate: (rate) => current.setBaudRate(rate),
    });
    next.serve({ ...handlers, baudChange: follower.handleBaudChange });
    current.channel.onClose((reason) => void lost(current, next, reason));
    try {
      onSession?.(next);
    } catch (error) {
      log?.(`service session start failed: ${String(error)}`);
    }
    return next;
  }

  async function lost(current: ServiceSerialPort, old: ServiceSession, reason?: string) {
    old.close(reason ?? 'the port closed');
    if (session === old) session = undefined;
    if (port === current) port = undefined;
    await current.close().catch(() => {});
    if (closed) return;
    log?.(`service port ${path} lost (${reason ?? 'closed'}): waiting for it`);
    keepTrying();
  }

  /** One attempt; true once a session runs (or the endpoint was closed meanwhile). */
  async function tryOpen(): Promise<boolean> {
    let opened: ServiceSerialPort;
    try {
      opened = await openServiceSerialPort(path, pathPollMs ? { pathPollMs } : {});
    } catch {
      return false; // the cable is out: try again later
    }
    if (closed) {
      await opened.close().catch(() => {});
      return true;
    }
    port = opened;
    session = start(opened);
    log?.(`service port ${path} open`);
    return true;
  }

  /** Tries to open the port until it opens or the endpoint closes; one loop at a time. */
  function keepTrying(): void {
    if (waiting || closed) return;
    waiting = (async () => {
      try {
        while (!closed) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, reopenIntervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          if (closed || (await tryOpen())) return;
        }
      } finally {
        waiting = undefined;
      }
    })();
  }

  if (!(await tryOpen())) {
    log?.(`service port ${path} not there (cable out): waiting for it`);
    keepTrying();
  }

  return {
    get session() {
      return session;
    },
    close: async () => {
      closed = true;
      wake();
      await waiting;
      session?.close('the module is shutting down');
      await port?.close().catch(() => {});
    },
  };
}
