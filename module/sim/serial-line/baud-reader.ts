import { LinuxPortBinding } from '@serialport/bindings-cpp';

/**
 * Reads the speed an opener set on a pty, without disturbing it.
 *
 * Node cannot read termios, but the `serialport` native binding can: its `getBaudRate` is a
 * TCGETS2 ioctl on any fd. The pty end holds its own fd on the slave (O_NOCTTY, so it never
 * becomes anyone's controlling terminal) and this asks it. That costs ~30 µs per read, against
 * ~1 ms of fork and exec for `stty -F <path> speed`, which is what lets the relay read both
 * ends' rates each time bytes arrive instead of trusting a reading up to a poll interval old. It also reads custom rates (250000 reads as 250000; stty prints 0). Holding the fd changes
 * nothing for the opener: socat already keeps the slave open (see pty-end.ts).
 */
export class BaudReader {
  private readonly binding: LinuxPortBinding;

  /** Takes over `fd` (closes it on close). */
  constructor(fd: number, path: string) {
    // The binding only uses the fd here; the options describe nothing we change.
    this.binding = new LinuxPortBinding(fd, {
      path,
      baudRate: 9600,
      dataBits: 8,
      stopBits: 1,
      parity: 'none',
      lock: false,
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      hupcl: false,
      vmin: 1,
      vtime: 0,
    });
  }

  /**
   * The current speed, or undefined when nobody has configured the pty yet (it starts at 0,
   * i.e. B0) or the pty is gone (the ioctl fails with EIO once it is hung up).
   */
  async read(): Promise<number | undefined> {
    if (!this.binding.isOpen) return undefined;
    try {
      const { baudRate } = await this.binding.getBaudRate();
      return baudRate > 0 ? baudRate : undefined;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.binding.isOpen) await this.binding.close().catch(() => undefined);
  }
}
