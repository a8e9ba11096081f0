import { performance } from 'node:perf_hooks';
import { DELIVERY_WINDOW_BYTES, PtyEnd } from '../serial-line/pty-end.js';
import type { HostPacket } from './h4.js';
import { encodeCommand, H4Decoder } from './h4.js';
import { OP } from './hci.js';

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
  /**
   * Packets for the host dropped at an HCI Reset: output from before it that had not yet been
   * handed to socat (stale for whoever reset; with a restarted host, meant for the old one).
   */
  stalePackets: number;
  /** Host bytes the decoder skipped, and incomplete packets it abandoned. */
  skippedBytes: number;
  abandonedPackets: number;
  /** Bytes of an incomplete host packet the decoder holds, waiting for the rest. */
  pendingBytes: number;
}

// What may wait for a slow host. A real UART controller holds far less; more than this and the
// host is not reading, so newer packets are dropped (a dead host must not grow the air).
export const MAX_BACKLOG_BYTES = 64 * 1024;
// No progress for this long while bytes wait, and nothing heard from the host either: it is
// gone (closed the port, or died). What waits is then stale, and would confuse the next host
// to open the port.
const HOST_GONE_AFTER_MS = 2_000;
// What every UART host writes first after opening the port (and again whenever it wants a
// fresh controller).
const RESET = encodeCommand(OP.reset);

/**
 * The controller's UART: a pty path a host opens (made by socat, as for the serial line),
 * decoding the host's H4 stream and writing the controller's packets back in order.
 *
 * A host can close the path and another open it at any time (a restart), and nothing tells
 * the air: socat keeps the pty open. What the controller sent for the old host and the new one
 * has not read is stale, and the UART driver of bluetooth-hci-socket only comes up once it
 * sees the answer to its HCI Reset whole. So packets are handed to socat whole (a host never
 * gets half a packet, whatever it opens into), and an HCI Reset from the host (`hostReset`)
 * drops what still waits and sends its answer in a write of its own, once what socat already
 * has has reached the pty.
 */
export class HostPort {
  private readonly decoder: H4Decoder<'host'>;
  private end: PtyEnd | undefined;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private droppedPackets = 0;
  private stalePackets = 0;
  // Set when the host stopped reading; cleared by the next bytes it sends.
  private hostGone = false;
  private lastHeardAt = -Infinity;
  // Set by an HCI Reset: what waits was produced since (the answer first) and is written once
  // everything handed to socat before has reached the pty.
  private resetPending = false;
  // Since when a packet has waited for room in socat's window with no progress.
  private stalledSince: number | undefined;

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
        const now = performance.now();
        this.lastHeardAt = now;
        // Hosts write whole packets, so a write that starts with a whole Reset while a packet
        // is incomplete comes from a new host: the old one died mid-packet. Without this the
        // half packet would swallow the Reset, and the new host would wait for its answer
        // forever (the decoder's pause rule only helps a host that comes later than that).
        if (this.decoder.pendingBytes > 0 && startsWith(chunk, RESET)) this.decoder.abandon();
        for (const packet of this.decoder.push(chunk, now)) {
          this.options.onPacket(packet);
        }
      },
      onLost: this.options.onLost,
      onWritable: () => {
        // socat wrote into the pty: progress, whether or not the next packet fits yet.
        this.stalledSince = undefined;
        this.flush();
      },
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
      stalePackets: this.stalePackets,
      skippedBytes: this.decoder.stats.skippedBytes,
      abandonedPackets: this.decoder.stats.abandonedPackets,
      pendingBytes: this.decoder.pendingBytes,
    };
  }

  /** Queues one whole packet for the host. */
  send(packet: Uint8Array): void {
    const stalledSince = this.stalledSince;
    const now = performance.now();
    const silent = now - this.lastHeardAt > HOST_GONE_AFTER_MS;
    if (stalledSince !== undefined && now - stalledSince > HOST_GONE_AFTER_MS && silent) {
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

  /**
   * The host sent HCI Reset (the controller answers it next): what still waits for the host is
   * from before the reset and is dropped, as a controller's reset empties its transmit queue.
   * That is what a restarted host must never get: the old host's events (reports, completed
   * packets, disconnections) ahead of its Reset answer, or a backlog so full that the answer
   * itself would be dropped. Bytes socat already has cannot be taken back; they are whole
   * packets, which the UART driver skips, and the answer waits until they have reached the pty
   * so that it arrives in one piece. A Reset while an earlier one's answer still waits drops
   * nothing: all that waits was produced since, for this host.
   */
  hostReset(): void {
    if (!this.resetPending) {
      this.stalePackets += this.backlog.length;
      this.backlog = [];
      this.backlogBytes = 0;
    }
    this.resetPending = true;
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
    if (this.resetPending) {
      // The Reset's answer starts a write of its own, after all that socat has.
      if (end.room < DELIVERY_WINDOW_BYTES) return this.stalled();
      this.resetPending = false;
    }
    while (this.backlog.length > 0) {
      const head = this.backlog[0]!;
      // Whole packets only: a packet split between two writes could be cut by the next
      // opener's flush, which would start that host's stream in the middle of a packet.
      // (Every packet is far smaller than the window, so it fits once socat has caught up.)
      if (end.room < Math.min(head.length, DELIVERY_WINDOW_BYTES)) return this.stalled();
      end.write(head);
      this.backlogBytes -= head.length;
      this.backlog.shift();
    }
    this.stalledSince = undefined;
  }

  private stalled(): void {
    if (this.backlog.length > 0) this.stalledSince ??= performance.now();
  }
}

function startsWith(chunk: Uint8Array, prefix: Uint8Array): boolean {
  if (chunk.length < prefix.length) return false;
  return prefix.every((byte, index) => chunk[index] === byte);
}
