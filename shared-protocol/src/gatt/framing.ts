/**
 * Framing on the key link: each message is sent as `length:u16 LE | message`, and those bytes are
 * cut into chunks of one ATT write or notification each. GATT over an LE connection is reliable
 * and ordered, so there is no checksum and no resync: the receiver reads length-prefixed records
 * from the chunk stream until the connection drops.
 */

/** Bytes of the length prefix in front of every message (little-endian, like the service link). */
export const KEY_LINK_LENGTH_PREFIX_SIZE = 2;
/** Largest message, without its prefix, either side sends or accepts. Announced in the version
 * characteristic. */
export const KEY_LINK_MAX_MESSAGE_SIZE = 4096;
/** ATT_MTU bounds: 23 is the LE default, 517 the largest a central may negotiate. */
export const ATT_MTU_MIN = 23;
export const ATT_MTU_MAX = 517;
/** Opcode (1) and handle (2) in front of the value of a write or notification. */
export const ATT_HEADER_SIZE = 3;
/** An attribute value is at most 512 bytes, whatever the MTU (Core spec Vol 3 Part F 3.2.9). */
export const ATT_MAX_VALUE_SIZE = 512;

/** Bytes of message stream per write or notification at this MTU: MTU-3, at most 512. */
export function chunkSizeForMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < ATT_MTU_MIN) {
    throw new RangeError(`an ATT MTU is an integer >= ${ATT_MTU_MIN}`);
  }
  return Math.min(mtu - ATT_HEADER_SIZE, ATT_MAX_VALUE_SIZE);
}

/**
 * Splits one message into the chunks to write (central) or notify (module), in order. The first
 * chunk starts with the length prefix; every chunk but the last is full. Throws RangeError for an
 * empty or oversized message or a bad MTU: those are the sender's bugs, not line conditions.
 */
export function chunkKeyLinkMessage(
  message: Uint8Array,
  mtu: number,
  maxMessageSize = KEY_LINK_MAX_MESSAGE_SIZE,
): Uint8Array[] {
  const chunkSize = chunkSizeForMtu(mtu);
  if (message.length === 0) throw new RangeError('a key link message is never empty');
  if (message.length > maxMessageSize) {
    throw new RangeError(`message of ${message.length} bytes is over the ${maxMessageSize} limit`);
  }
  const framed = new Uint8Array(KEY_LINK_LENGTH_PREFIX_SIZE + message.length);
  framed[0] = message.length & 0xff;
  framed[1] = message.length >> 8;
  framed.set(message, KEY_LINK_LENGTH_PREFIX_SIZE);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < framed.length; offset += chunkSize) {
    chunks.push(framed.slice(offset, offset + chunkSize));
  }
  return chunks;
}

/** The sender's side for one connection: remembers the MTU the central negotiated. */
export class KeyLinkChunker {
  #mtu: number;

  constructor(
    mtu = ATT_MTU_MIN,
    readonly maxMessageSize = KEY_LINK_MAX_MESSAGE_SIZE,
  ) {
    chunkSizeForMtu(mtu);
    this.#mtu = mtu;
  }

  get mtu(): number {
    return this.#mtu;
  }

  /** After an MTU exchange. Throws RangeError below 23. */
  set mtu(mtu: number) {
    chunkSizeForMtu(mtu);
    this.#mtu = mtu;
  }

  get chunkSize(): number {
    return chunkSizeForMtu(this.#mtu);
  }

  chunk(message: Uint8Array): Uint8Array[] {
    return chunkKeyLinkMessage(message, this.#mtu, this.maxMessageSize);
  }
}

/** Why the reassembler dropped (part of) a message. */
export type KeyLinkReassemblyError =
  /** A length prefix of 0: skipped. */
  | 'empty-message'
  /** A length prefix above the maximum: the declared bytes are skipped unbuffered. */
  | 'too-long'
  /** `reset()` (disconnect) with a message partly received. */
  | 'truncated';

export interface KeyLinkReassemblerStats {
  /** Messages returned by `push`. */
  messagesReassembled: number;
  /** Sum of `errorsBy`. */
  errors: number;
  errorsBy: Record<KeyLinkReassemblyError, number>;
  /** Received bytes (prefixes included) that did not end up in a returned message. */
  bytesDiscarded: number;
}

export interface KeyLinkReassemblerOptions {
  /** Default KEY_LINK_MAX_MESSAGE_SIZE (4096). */
  maxMessageSize?: number;
}

/**
 * Streaming receiver for one connection: push every written or notified value, get whole
 * messages. Memory is bounded by the maximum message size whatever the peer sends; it never
 * throws on input; problems are counted in `stats`. Call `reset()` on disconnect.
 */
export class KeyLinkReassembler {
  readonly maxMessageSize: number;

  /** Length-prefix bytes received so far for the next message (0..1). */
  #prefixBytes = 0;
  #prefixLow = 0;
  /** The message being filled, or undefined while reading a prefix or skipping. */
  #message: Uint8Array | undefined;
  #filled = 0;
  /** Bytes of a too-long message still to skip. */
  #skipRemaining = 0;

  #messagesReassembled = 0;
  #bytesDiscarded = 0;
  readonly #errorsBy: Record<KeyLinkReassemblyError, number> = {
    'empty-message': 0,
    'too-long': 0,
    truncated: 0,
  };

  /** Throws RangeError if maxMessageSize is not an integer in 1..65535. */
  constructor(options: KeyLinkReassemblerOptions = {}) {
    const max = options.maxMessageSize ?? KEY_LINK_MAX_MESSAGE_SIZE;
    if (!Number.isInteger(max) || max < 1 || max > 0xffff) {
      throw new RangeError('maxMessageSize is an integer in 1..65535');
    }
    this.maxMessageSize = max;
  }

  /** A snapshot; counters survive `reset()`. */
  get stats(): KeyLinkReassemblerStats {
    const errorsBy = { ...this.#errorsBy };
    return {
      messagesReassembled: this.#messagesReassembled,
      errors: errorsBy['empty-message'] + errorsBy['too-long'] + errorsBy.truncated,
      errorsBy,
      bytesDiscarded: this.#bytesDiscarded,
    };
  }

  /** True while part of a message (or of a skipped one) has arrived. */
  get pending(): boolean {
    return this.#prefixBytes > 0 || this.#message !== undefined || this.#skipRemaining > 0;
  }

  /** Forget any partial message: on disconnect, and before a new connection. */
  reset(): void {
    if (this.#prefixBytes > 0 || this.#message !== undefined) {
      this.#errorsBy.truncated++;
      this.#bytesDiscarded += this.#prefixBytes + (this.#message ? this.#filled + 2 : 0);
    }
    this.#prefixBytes = 0;
    this.#message = undefined;
    this.#filled = 0;
    this.#skipRemaining = 0;
  }

  /**
   * Feed one received value (any split is fine). Returns the messages it completed, in order, as
   * fresh arrays the caller may keep. Never throws.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const messages: Uint8Array[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#skipRemaining > 0) {
        const skip = Math.min(this.#skipRemaining, chunk.length - i);
        this.#skipRemaining -= skip;
        this.#bytesDiscarded += skip;
        i += skip;
        continue;
      }
      const message = this.#message;
      if (message) {
        const take = Math.min(message.length - this.#filled, chunk.length - i);
        message.set(chunk.subarray(i, i + take), this.#filled);
        this.#filled += take;
        i += take;
        if (this.#filled === message.length) {
          messages.push(message);
          this.#messagesReassembled++;
          this.#message = undefined;
          this.#filled = 0;
        }
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.#prefixBytes === 0) {
        this.#prefixLow = byte;
        this.#prefixBytes = 1;
        continue;
      }
      this.#prefixBytes = 0;
      this.#startMessage(this.#prefixLow | (byte << 8));
    }
    return messages;
  }

  #startMessage(length: number): void {
    if (length === 0) {
      this.#errorsBy['empty-message']++;
      this.#bytesDiscarded += KEY_LINK_LENGTH_PREFIX_SIZE;
    } else if (length > this.maxMessageSize) {
      this.#errorsBy['too-long']++;
      this.#bytesDiscarded += KEY_LINK_LENGTH_PREFIX_SIZE;
      this.#skipRemaining = length;
    } else {
      this.#message = new Uint8Array(length);
      this.#filled = 0;
    }
  }
}
