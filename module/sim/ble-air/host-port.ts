import { performance } from 'node:perf_hooks';
import { PtyEnd } from '../serial-line/pty-end.js';
import type { HostPacket } from './h4.js';
import { H4Decoder } from './h4.js';

export interface HostPortOptions {
  linkPath: string;
  socatPath: string;
  /** Longest ACL payload the controller accepts from its host. */
  maxAclLength: number;
  onPacket(packet: HostPacket): void;
  /** socat ended without being asked to. */
  onLost(reason: string): void;
}

export interface HostPortStats {
  /** Bytes waiting to reach the host. */
  backlogBytes: number;
  /** Packets for the host dropped because it was not reading. */
  droppedPackets: number;
  /** Host bytes the decoder skipped, and incomplete packets it abandoned. */
  skippedBytes: number;
  abandonedPackets: number;
}

// What may wait for a slow host. A real UART controller holds far less; more than this and the
// host is not reading, so newer packets are dropped (a dead host must not grow the air).
export const MAX_BACKLOG_BYTES = 64 * 1024;
// No progress for this long while bytes wait, and nothing heard from the host either: it is
// gone (closed the port, or died). What waits is then stale, and would confuse the next host
// to open the port.
const HOST_GONE_AFTER_MS = 2_000;

/**
 * The controller's UART: a pty path a host opens (made by socat, as for the serial line),
 * decoding the host's H4 stream and writing the controller's packets back in order.
 */
export class HostPort {
  private readonly decoder: H4Decoder<'host'>;
  private end: PtyEnd | undefined;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private droppedPackets = 0;
  // Set when the host stopped reading; cleared by the next bytes it sends.
  private hostGone = false;
  private lastHeardAt = -Infinity;

  /** Packets sent before `start` wait in the backlog. */
  constructor(private readonly options: HostPortOptions) {
    this.decoder = new H4Decoder({ from: 'host', maxAclLength: options.maxAclLength });
  }

  /** Makes the pty; a host can open the path once this resolves. */
  async start(): Promise<void> {
    this.end = await PtyEnd.start({
      linkPath: this.options.linkPath,
      socatPath: this.options.socatPath,
      onData: (chunk) => {
        // A host that writes is there, even if socat has not yet seen it read: a new opener's
        // flush frees socat only a moment later, and its Reset must be answered.
        this.hostGone = false;
        this.lastHeardAt = performance.now();
        for (const packet of this.decoder.push(chunk, performance.now())) {
          this.options.onPacket(packet);
        }
      },
      onLost: this.options.onLost,
      onWritable: () => this.flush(),
    });
    this.flush();
  }

  get path(): string {
    return this.options.linkPath;
  }

  get pid(): number | undefined {
    return this.end?.pid;
  }

  get stats(): HostPortStats {
    return {
      backlogBytes: this.backlogBytes,
      droppedPackets: this.droppedPackets,
      skippedBytes: this.decoder.stats.skippedBytes,
      abandonedPackets: this.decoder.stats.abandonedPackets,
    };
  }

  /** Queues one whole packet for the host. */
  send(packet: Uint8Array): void {
    const blockedSince = this.end?.blockedSince;
    const now = performance.now();
    const silent = now - this.lastHeardAt > HOST_GONE_AFTER_MS;
    if (blockedSince !== undefined && now - blockedSince > HOST_GONE_AFTER_MS && silent) {
      this.hostGone = true;
      this.droppedPackets += this.backlog.length;
      this.backlog = [];
      this.backlogBytes = 0;
    }
    if (this.hostGone || this.backlogBytes + packet.length > MAX_BACKLOG_BYTES) {
      this.droppedPackets++;
      return;
    }
    this.backlog.push(packet);
    this.backlogBytes += packet.length;
    this.flush();
  }

  async close(): Promise<void> {
    this.backlog = [];
    this.backlogBytes = 0;
    await this.end?.stop();
  }

  private flush(): void {
    const end = this.end;
    if (!end) return;
    while (this.backlog.length > 0) {
      const room = end.room;
      if (room <= 0) return;
      const head = this.backlog[0]!;
      const piece = head.subarray(0, room);
      end.write(piece);
      this.backlogBytes -= piece.length;
      if (piece.length === head.length) this.backlog.shift();
      else this.backlog[0] = head.subarray(piece.length);
    }
  }
}
