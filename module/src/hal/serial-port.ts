/**
 * The module's USB serial port (CDC-ACM on the real board, the virtual serial line's module end
 * in the simulated world): both are tty devices that `serialport` opens the same way.
 */
import { SerialPort } from 'serialport';
import { channelFromStream, type ByteChannel } from '@mini-sharing/shared-protocol/session';

export interface ServiceSerialPort {
  channel: ByteChannel;
  setBaudRate(baudRate: number): Promise<void>;
  close(): Promise<void>;
}

export async function openServiceSerialPort(
  path: string,
  baudRate = 115200,
): Promise<ServiceSerialPort> {
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) =>
      error
        ? reject(new Error(`Cannot open the service port ${path}: ${error.message}`))
        : resolve(),
    ),
  );
  port.on('error', () => {}); // surfaced through the channel's close
  return {
    channel: channelFromStream(port),
    setBaudRate: (rate) =>
      new Promise<void>((resolve, reject) => {
        // drain first: the rate must not change under bytes still leaving the UART
        port.drain(() =>
          port.update({ baudRate: rate }, (error) => (error ? reject(error) : resolve())),
        );
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}
