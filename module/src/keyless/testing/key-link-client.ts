/**
 * The phone's side of the key link, on shared-protocol's gatt and trust code (no second protocol
 * implementation): frames and chunks requests, reassembles answers, presents the digital key and
 * signs commands with the holder's device key, a counter that rises per token and the module's
 * challenge. Over any transport: noble (test-phone.ts) or a session in this process
 * (`inProcessTransport`). Tests and benchmarks only; it also sends what a real phone must not
 * (replays, stale counters, tampered bytes) for the attack tests.
 */
import { toHex, type Signer } from '@mini-sharing/shared-protocol/crypto';
import {
  KeyLinkChunker,
  KeyLinkReassembler,
  buildKeyLinkMessage,
  decodeKeyLinkMessage,
  encodeKeyLinkMessage,
  type Challenge,
  type KeyLinkInitOf,
  type KeyLinkKind,
  type KeyLinkMessage,
  type Result,
  type Status,
} from '@mini-sharing/shared-protocol/gatt';
import type { CommandKind } from '@mini-sharing/shared-protocol/trust';
import {
  decodeDigitalKeyUnverified,
  signCommand,
  type CommandFields,
} from '@mini-sharing/shared-protocol/trust';
import type { KeyLinkSession } from '../key-link-session.js';

export interface KeyLinkTransport {
  readonly mtu: number;
  /** One write (without response) of one chunk. */
  write(chunk: Uint8Array): Promise<void>;
  onNotification(listener: (chunk: Uint8Array) => void): () => void;
}

/** A phone's counters per token, kept across connections as a phone's app would. */
export type PhoneCounters = Map<string, bigint>;

export interface CommandOptions {
  /** Default: the challenge the module sent last on this connection. */
  challenge?: Uint8Array;
  /** Default: one above the last this phone used under the token. */
  counter?: bigint;
  /** Default: module time of the challenge + 30 s. */
  expiresAtMs?: number;
  /** Sign with another key (a thief without the phone's device key). */
  signer?: Signer;
  fields?: Partial<CommandFields>;
}

export class KeyLinkClient {
  readonly #transport: KeyLinkTransport;
  readonly #device: Signer;
  readonly #counters: PhoneCounters;
  readonly #chunker: KeyLinkChunker;
  readonly #reassembler = new KeyLinkReassembler();
  readonly #waiting = new Map<number, (message: KeyLinkMessage) => void>();
  readonly #unsubscribe: () => void;
  #nextRequestId = 1;
  #token: Uint8Array | undefined;
  /** The challenge to answer next (from a present, a challenge request or a next_challenge). */
  challenge: Challenge | undefined;
  /** Answers that matched no waiting request (e.g. MALFORMED with request id 0). */
  readonly unsolicited: KeyLinkMessage[] = [];

  constructor(transport: KeyLinkTransport, device: Signer, counters: PhoneCounters = new Map()) {
    this.#transport = transport;
    this.#device = device;
    this.#counters = counters;
    this.#chunker = new KeyLinkChunker(transport.mtu);
    this.#unsubscribe = transport.onNotification((chunk) => {
      for (const bytes of this.#reassembler.push(chunk)) {
        const decoded = decodeKeyLinkMessage(bytes);
        if (!decoded.ok) continue;
        const resolve = this.#waiting.get(decoded.message.requestId);
        if (resolve) {
          this.#waiting.delete(decoded.message.requestId);
          resolve(decoded.message);
        } else this.unsolicited.push(decoded.message);
      }
    });
  }

  /** Sends one request and waits for the module's answer to it. */
  async request<K extends KeyLinkKind>(
    kind: K,
    value: KeyLinkInitOf<K>,
    timeoutMs = 10_000,
  ): Promise<KeyLinkMessage> {
    const requestId = this.#nextRequestId++;
    return this.requestRaw(encodeKeyLinkMessage(buildKeyLinkMessage(kind, value, requestId)), {
      requestId,
      timeoutMs,
    });
  }

  /** Sends encoded bytes as one message; waits for the answer carrying `requestId`. */
  async requestRaw(
    message: Uint8Array,
    options: { requestId: number; timeoutMs?: number },
  ): Promise<KeyLinkMessage> {
    const answered = new Promise<KeyLinkMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(options.requestId);
        reject(new Error(`no answer to request ${options.requestId}`));
      }, options.timeoutMs ?? 10_000);
      this.#waiting.set(options.requestId, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
    });
    for (const chunk of this.#chunker.chunk(message)) await this.#transport.write(chunk);
    const answer = await answered;
    this.#noteChallenge(answer);
    return answer;
  }

  /** Presents the key: the challenge (accepted) or the module's Result (refused). */
  async presentKey(token: Uint8Array): Promise<{ challenge?: Challenge; result?: Result }> {
    this.#token = token;
    const answer = await this.request('presentToken', { token });
    if (answer.body.case === 'challenge') return { challenge: answer.body.value };
    return { result: expectResult(answer) };
  }

  async requestChallenge(): Promise<{ challenge?: Challenge; result?: Result }> {
    const answer = await this.request('challengeRequest', {});
    if (answer.body.case === 'challenge') return { challenge: answer.body.value };
    return { result: expectResult(answer) };
  }

  /**
   * Signs `kind` under the presented key and sends it; the module's Result. Like a phone's app,
   * asks for a challenge first when it holds none (after a refusal, which consumes it) or when
   * told the one it holds is stale (`freshChallenge`: the module clock moved on).
   */
  async command(
    kind: CommandKind,
    options: CommandOptions & { freshChallenge?: boolean } = {},
  ): Promise<Result> {
    if (!options.challenge && (!this.challenge || options.freshChallenge)) {
      const asked = await this.requestChallenge();
      if (asked.result) return asked.result;
    }
    return this.sendCommand(await this.signCommand(kind, options));
  }

  /** The signed command bytes, for tests that send them later (replays) or tamper with them. */
  async signCommand(kind: CommandKind, options: CommandOptions = {}): Promise<Uint8Array> {
    const token = this.#token;
    const key = token && decodeDigitalKeyUnverified(token);
    if (!key) throw new Error('present a key first');
    const tokenHex = toHex(key.tokenId);
    const counter = options.counter ?? (this.#counters.get(tokenHex) ?? 0n) + 1n;
    if (counter > (this.#counters.get(tokenHex) ?? 0n)) this.#counters.set(tokenHex, counter);
    const challenge = options.challenge ?? this.challenge?.nonce ?? new Uint8Array(16);
    const moduleTime = Number(this.challenge?.moduleTimeMs ?? 0n);
    return signCommand(options.signer ?? this.#device, {
      kind,
      moduleSerial: key.moduleSerial,
      tokenId: key.tokenId,
      challenge,
      counter,
      expiresAtMs: BigInt(options.expiresAtMs ?? moduleTime + 30_000),
      ...options.fields,
    });
  }

  async sendCommand(commandBytes: Uint8Array): Promise<Result> {
    this.challenge = undefined;
    return expectResult(await this.request('command', { command: commandBytes }));
  }

  async relayRevocationList(revocationList: Uint8Array): Promise<Result> {
    return expectResult(await this.request('revocationListRelay', { revocationList }));
  }

  async status(): Promise<{ status?: Status; result?: Result }> {
    const answer = await this.request('statusRequest', {});
    if (answer.body.case === 'status') return { status: answer.body.value };
    return { result: expectResult(answer) };
  }

  close(): void {
    this.#unsubscribe();
    this.#waiting.clear();
  }

  #noteChallenge(answer: KeyLinkMessage): void {
    if (answer.body.case === 'challenge') this.challenge = answer.body.value;
    else if (answer.body.case === 'result' && answer.body.value.nextChallenge) {
      this.challenge = answer.body.value.nextChallenge;
    }
  }
}

function expectResult(message: KeyLinkMessage): Result {
  if (message.body.case !== 'result')
    throw new Error(`expected a result, got ${message.body.case}`);
  return message.body.value;
}

/** A transport straight into a session in this process (policy tests, fuzzing, benchmarks). */
export function inProcessTransport(session: KeyLinkSession, mtu = 247): KeyLinkTransport {
  const listeners = new Set<(chunk: Uint8Array) => void>();
  session.attach((chunk) => {
    for (const listener of listeners) listener(chunk);
  }, mtu);
  return {
    mtu,
    write: (chunk) => session.write(chunk),
    onNotification: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
