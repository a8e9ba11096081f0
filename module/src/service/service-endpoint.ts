/**
 * The module side of the service link: one session on the service serial port with the handlers
 * the running program (firmware or recovery service) provides, plus baud negotiation.
 */
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import {
  BAUD_RATES,
  BaudRateFollower,
  ServiceSession,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import { openServiceSerialPort, type ServiceSerialPort } from '../hal/serial-port.js';

export interface ServiceEndpoint {
  session: ServiceSession;
  close(): Promise<void>;
}

/**
 * Serves `handlers` on the port, reopening the session whenever the line drops (a cable pulled
 * and plugged back in) until closed.
 */
export async function serveServicePort(
  path: string,
  handlers: RequestHandlers,
  onSession?: (session: ServiceSession) => void,
): Promise<ServiceEndpoint> {
  let port: ServiceSerialPort = await openServiceSerialPort(path);
  let closed = false;
  let session = start(port);

  function start(current: ServiceSerialPort): ServiceSession {
    const next = new ServiceSession({ channel: current.channel, clock: systemClock });
    const follower = new BaudRateFollower(next, {
      clock: systemClock,
      rates: BAUD_RATES,
      setLocalBaudRate: (rate) => current.setBaudRate(rate),
    });
    next.serve({ ...handlers, baudChange: follower.handleBaudChange });
    current.channel.onClose(() => void reopen());
    onSession?.(next);
    return next;
  }

  async function reopen(): Promise<void> {
    while (!closed) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      try {
        port = await openServiceSerialPort(path);
        session = start(port);
        return;
      } catch {
        // the cable is still out: try again
      }
    }
  }

  return {
    get session() {
      return session;
    },
    close: async () => {
      closed = true;
      session.close('the module is shutting down');
      await port.close();
    },
  };
}
