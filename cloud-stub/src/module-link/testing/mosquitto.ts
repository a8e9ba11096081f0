/** For tests only: the machine's Mosquitto on 127.0.0.1:1883 (.ci/run starts it). */
import { Socket } from 'node:net';

export const MOSQUITTO_HOST = '127.0.0.1';
export const MOSQUITTO_PORT = 1883;
export const MOSQUITTO_URL = `mqtt://${MOSQUITTO_HOST}:${MOSQUITTO_PORT}`;

/** Throws a clear error when Mosquitto is not there: such a test fails, it is not skipped. */
export async function requireMosquitto(): Promise<void> {
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(MOSQUITTO_PORT, MOSQUITTO_HOST, () => done(true));
  });
  if (!reachable) {
    throw new Error(
      `Mosquitto is not running on ${MOSQUITTO_HOST}:${MOSQUITTO_PORT}. Start it with ` +
        '`mosquitto -d -c /etc/mosquitto/mosquitto.conf` (.ci/run does this) and run again.',
    );
  }
}
