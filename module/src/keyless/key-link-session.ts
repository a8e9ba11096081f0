/**
 * One central's conversation with the module over the key link (PROTOCOL.md 15.3–15.5), without
 * BLE: chunks in (each GATT write), chunks out (each notification). It reassembles and decodes
 * with shared-protocol's gatt code, answers one request at a time (BUSY otherwise), holds the
 * accepted token and at most one challenge, and leaves every decision to the AccessController.
 *
 * Challenges live a few seconds (issue #7: a relayed conversation runs out of time), measured on
 * the module clock; a clock set back drops the outstanding one so it cannot live longer.
 */
import { randomBytes } from '@mini-sharing/shared-protocol/crypto';
import {
  ATT_MAX_VALUE_SIZE,
  ATT_MTU_MIN,
  CHALLENGE_NONCE_LENGTH,
  DEFAULT_CHALLENGE_VALID_FOR_MS,
  KeyLinkChunker,
  KeyLinkReassembler,
  ResultCode,
  buildKeyLinkMessage,
  buildResult,
  decodeKeyLinkMessage,
  encodeKeyLinkMessage,
  type KeyLinkMessage,
} from '@mini-sharing/shared-protocol/gatt';
import type { Clock } from '@mini-sharing/shared-protocol/clock';
import type { KeylessLog } from './access-events.js';
import type { AccessController } from './access-controller.js';
import type { IssuedChallenge } from './key-checks.js';

/** How long a challenge is good for: the protocol's few seconds, enough for a phone next to the car. */
export const KEYLESS_CHALLENGE_VALID_FOR_MS = DEFAULT_CHALLENGE_VALID_FOR_MS;
const COMPONENT = 'key-link';

/** What a session needs from keyless access (the AccessController, or a test double). */
export type KeyLinkAccess = Pick<
  AccessController,
  'presentKey' | 'executeCommand' | 'carState' | 'applyRevocationList' | 'revocationListSequence'
>;

export interface KeyLinkSessionOptions {
  access: KeyLinkAccess;
  /** The module clock (challenge lifetimes). */
  clock: Clock;
  log: KeylessLog;
  /** Who is on the other end, for the log (a BLE address). */
  peer?: string;
  challengeValidForMs?: number;
  /** Source of challenge nonces; default the platform's CSPRNG. */
  random?: (length: number) => Uint8Array;
}

export interface KeyLinkSessionStats {
  writes: number;
  /** Writes refused at the edge (empty or longer than an attribute value). */
  writesRefused: number;
  messages: number;
  malformed: number;
  busy: number;
}

interface AcceptedToken {
  bytes: Uint8Array;
  accessEndsAtMs: number;
}

export class KeyLinkSession {
  readonly #options: KeyLinkSessionOptions;
  readonly #reassembler = new KeyLinkReassembler();
  readonly #chunker = new KeyLinkChunker();
  #send: ((chunk: Uint8Array) => void) | undefined;
  #token: AcceptedToken | undefined;
  #challenge: IssuedChallenge | undefined;
  #busy = false;
  #closed = false;
  readonly #stats: KeyLinkSessionStats = {
    writes: 0,
    writesRefused: 0,
    messages: 0,
    malformed: 0,
    busy: 0,
  };

  constructor(options: KeyLinkSessionOptions) {
    this.#options = options;
  }

  get stats(): KeyLinkSessionStats {
    return { ...this.#stats };
  }

  /** The central subscribed to notifications at this ATT MTU: answers can go out. */
  attach(send: (chunk: Uint8Array) => void, mtu: number): void {
    this.#chunker.mtu = Number.isInteger(mtu) && mtu >= ATT_MTU_MIN ? mtu : ATT_MTU_MIN;
    this.#send = send;
  }

  detach(): void {
    this.#send = undefined;
  }

  /** The module clock went back: the outstanding challenge must not live longer for it. */
  dropChallenge(): void {
    this.#challenge = undefined;
  }

  /** Disconnected: forget the partial message, the token and the challenge. */
  close(): void {
    this.#closed = true;
    this.#reassembler.reset();
    this.#token = undefined;
    this.#challenge = undefined;
    this.#send = undefined;
  }

  /**
   * One write from the central (any bytes: this is the edge). Resolves once every message it
   * completed has been answered; never rejects.
   */
  async write(value: Uint8Array): Promise<void> {
    this.#stats.writes++;
    if (this.#closed || value.length === 0 || value.length > ATT_MAX_VALUE_SIZE) {
      this.#stats.writesRefused++;
      return;
    }
    const handled: Array<Promise<void>> = [];
    for (const bytes of this.#reassembler.push(value)) {
      this.#stats.messages++;
      handled.push(this.#receive(bytes));
    }
    await Promise.all(handled);
  }

  async #receive(bytes: Uint8Array): Promise<void> {
    const decoded = decodeKeyLinkMessage(bytes);
    if (!decoded.ok) {
      this.#stats.malformed++;
      this.#log('warn', `malformed message: ${decoded.reason}`);
      return this.#answer(buildResult(0, ResultCode.MALFORMED, decoded.reason));
    }
    const message = decoded.message;
    if (this.#busy) {
      this.#stats.busy++;
      return this.#answer(
        this.#linkRefusal(message.requestId, ResultCode.BUSY, 'one request at a time'),
      );
    }
    this.#busy = true;
    try {
      this.#answer(await this.#handle(message));
    } catch (error) {
      this.#log('error', `request failed inside the module: ${String(error)}`);
      this.#answer(
        buildResult(message.requestId, ResultCode.INTERNAL, 'Module fault; it logged why'),
      );
    } finally {
      this.#busy = false;
    }
  }

  async #handle(message: KeyLinkMessage): Promise<KeyLinkMessage> {
    const { requestId, body } = message;
    const access = this.#options.access;
    switch (body.case) {
      case 'presentToken': {
        this.#token = undefined;
        this.#challenge = undefined;
        const checked = await access.presentKey(body.value.token);
        if (!checked.ok) return buildResult(requestId, checked.code, checked.message);
        this.#token = { bytes: body.value.token, accessEndsAtMs: checked.accessEndsAtMs };
        return buildKeyLinkMessage('challenge', this.#newChallenge(), requestId);
      }
      case 'challengeRequest':
        if (!this.#token) return this.#tokenRequired(requestId);
        return buildKeyLinkMessage('challenge', this.#newChallenge(), requestId);
      case 'command': {
        if (!this.#token) return this.#tokenRequired(requestId);
        // A challenge answers one command, accepted or refused.
        const challenge = this.#challenge ?? { nonce: new Uint8Array(0), expiresAtMs: 0 };
        this.#challenge = undefined;
        const outcome = await access.executeCommand(
          this.#token.bytes,
          body.value.command,
          challenge,
        );
        if (!outcome.ok) {
          return buildResult(requestId, outcome.code, outcome.message, {
            ...(outcome.carState ? { carState: outcome.carState } : {}),
          });
        }
        return buildResult(requestId, ResultCode.OK, '', {
          carState: outcome.carState,
          nextChallenge: this.#newChallenge(),
        });
      }
      case 'revocationListRelay': {
        const applied = await access.applyRevocationList(body.value.revocationList, 'phone');
        return applied.ok
          ? buildResult(requestId, ResultCode.OK, applied.message)
          : buildResult(requestId, applied.code, applied.message);
      }
      case 'statusRequest': {
        if (!this.#token) return this.#tokenRequired(requestId);
        const carState = await access.carState();
        if (!carState) {
          return buildResult(
            requestId,
            ResultCode.VEHICLE_NOT_RESPONDING,
            'The car did not answer',
          );
        }
        return buildKeyLinkMessage(
          'status',
          { carState, accessEndsAtMs: BigInt(this.#token.accessEndsAtMs) },
          requestId,
        );
      }
      default:
        return this.#linkRefusal(
          requestId,
          ResultCode.UNSUPPORTED,
          `${body.case ?? 'this kind'} is sent by the module, not to it`,
        );
    }
  }

  #newChallenge() {
    const random = this.#options.random ?? randomBytes;
    const validForMs = this.#options.challengeValidForMs ?? KEYLESS_CHALLENGE_VALID_FOR_MS;
    const nowMs = this.#options.clock.now();
    const nonce = random(CHALLENGE_NONCE_LENGTH);
    this.#challenge = { nonce, expiresAtMs: nowMs + validForMs };
    return {
      nonce,
      validForMs,
      moduleTimeMs: BigInt(Math.max(0, Math.floor(nowMs))),
      revocationListSequence: this.#options.access.revocationListSequence,
    };
  }

  #answer(message: KeyLinkMessage): void {
    const send = this.#send;
    if (this.#closed) return;
    if (!send) {
      this.#log('warn', 'an answer was dropped: the central has not enabled notifications');
      return;
    }
    for (const chunk of this.#chunker.chunk(encodeKeyLinkMessage(message))) send(chunk);
  }

  #tokenRequired(requestId: number): KeyLinkMessage {
    return this.#linkRefusal(requestId, ResultCode.TOKEN_REQUIRED, 'present the digital key first');
  }

  /** A refusal of the link itself (keyless access logs its own): logged, then answered. */
  #linkRefusal(requestId: number, code: ResultCode, message: string): KeyLinkMessage {
    this.#log('warn', `refused request ${requestId}: ${ResultCode[code]}: ${message}`);
    return buildResult(requestId, code, message);
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    const peer = this.#options.peer ? ` ${this.#options.peer}` : '';
    this.#options.log(level, COMPONENT, `central${peer}: ${message}`);
  }
}
