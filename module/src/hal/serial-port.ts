/**
 * The module's USB serial port (CDC-ACM on the real board, the virtual serial line's module end
 * in the simulated world): both are tty devices that `serialport` opens the same way.
 *
 * An unplug normally closes the port (`serialport` emits `close`, `disconnected`). About once in
 * a hundred unplugs it does not: the hangup lands while a read is in flight, the read returns 0
 * and `serialport` retries it forever (bindings-cpp issue #162) until a write fails, and a module
 * that only answers never writes, so it would stay deaf after the cable is plugged back in. So the
 * port also watches its path: when the path vanishes or comes back as another device (a new tty,
 * a re-created link), the port is treated as unplugged and closed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { SerialPort } from 'serialport';
import { channelFromStream, type ByteChannel } from '@mini-sharing/shared-protocol/session';

export interface ServiceSerialPort {
  /** Closes (once) when the port closes, fails, or its path vanishes or changes device. */
  channel: ByteChannel;
  setBaudRate(baudRate: number): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceSerialPortOptions {
  baudRate?: number;
  /** How often the path is checked besides the file-system events; default 1000 ms. */
  pathPollMs?: number;
}

/** What identifies the device at a path: the link itself (re-created on replug) and its target. */
async function pathIdentity(path: string): Promise<string | undefined> {
  try {
    const [link, device] = await Promise.all([lstat(path), stat(path)]);
    // a link re-created at the same place may get the freed inode back, never the same ctime
    const linkId = link.isSymbolicLink() ? `${link.dev}:${link.ino}:${link.ctimeMs}` : '';
    return `${linkId}>${device.dev}:${device.ino}:${device.rdev}`;
  } catch {
    return undefined; // gone (ENOENT), or unreadable: either way not the port we opened
  }
}

/**
 * Calls `onChange` once when `path` no longer names the device it named at `identity`: removed,
 * or replaced. Watches the folder (instant) and polls (in case events are missed or unsupported).
 */
function watchPath(
  path: string,
  identity: string | undefined,
  pollMs: number,
  onChange: (reason: string) => void,
): () => void {
  let stopped = false;
  let checking = false;
  let recheck = false;
  const check = async () => {
    if (stopped) return;
    if (checking) {
      recheck = true;
      return;
    }
    checking = true;
    try {
      do {
        recheck = false;
        const now = await pathIdentity(path);
        if (stopped) return;
        if (now !== identity) {
          stop();
          onChange(
            now === undefined
              ? `the service port ${path} vanished (unplugged)`
              : `the service port ${path} is another device now (plugged in again)`,
          );
          return;
        }
      } while (recheck);
    } finally {
      checking = false;
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    const name = basename(path);
    watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (filename === null || filename === name) void check();
    });
    watcher.on('error', () => void check()); // the folder itself went: the check says so
  } catch {
    // no folder to watch (or no file-system events here): polling alone
  }
  const timer = setInterval(() => void check(), pollMs);
  timer.unref();
  function stop() {
    stopped = true;
    clearInterval(timer);
    watcher?.close();
  }
  return stop;
}

export async function openServiceSerialPort(
  path: string,
  options: ServiceSerialPortOptions | number = {},
): Promise<ServiceSerialPort> {
  const { baudRate = 115200, pathPollMs = 1000 } =
    typeof options === 'number' ? { baudRate: options } : options;
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) =>
      error
        ? reject(new Error(`Cannot open the service port ${path}: ${error.message}`))
        : resolve(),
    ),
  );
  port.on('error', () => {}); // surfaced through the channel's close
  const identity = await pathIdentity(path);

  const stream = channelFromStream(port);
  const closeListeners = new Set<(reason?: string) => void>();
  let lostReason: string | undefined;
  const lost = (reason?: string) => {
    if (lostReason !== undefined) return;
    lostReason = reason ?? 'the port closed';
    stopWatching();
    for (const listener of [...closeListeners]) listener(lostReason);
  };
  stream.onClose(lost);
  const stopWatching = watchPath(path, identity, pathPollMs, (reason) => {
    lost(reason);
    // the device behind the port is gone: let go of it (a read spinning on it stops too)
    if (port.isOpen) port.close(() => {});
  });
  if (identity === undefined) lost(`the service port ${path} vanished right after it opened`);

  const channel: ByteChannel = {
    write(bytes) {
      if (lostReason === undefined) stream.write(bytes);
    },
    onData: (listener) => stream.onData(listener),
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
  };

  return {
    channel,
    setBaudRate: (rate) =>
      new Promise<void>((resolve, reject) => {
        // a closed port would wait for an `open` that never comes
        if (!port.isOpen) return reject(new Error(`The service port ${path} is closed`));
        // drain first: the rate must not change under bytes still leaving the UART
        port.drain(() =>
          port.update({ baudRate: rate }, (error) => (error ? reject(error) : resolve())),
        );
      }),
    close: () =>
      new Promise<void>((resolve) => {
        stopWatching();
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}
