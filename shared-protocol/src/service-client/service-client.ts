/**
 * The host side of the service link (PROTOCOL.md sections 5, 7-9): typed calls over one
 * ServiceSession, with HELLO, baud negotiation and service authorization handled once per
 * connection. No I/O of its own: the transport is the session's channel, time is the Clock.
 */
import type { Clock } from '../clock/index.js';
import {
  ErrorCode,
  changesState,
  type HelloResponse,
  type RequestInitOf,
  type RequestKind,
  type ResponseOf,
} from '../messages/index.js';
import {
  hello,
  negotiateBaudRate,
  RejectedError,
  type BaudNegotiationResult,
  type RequestOptions,
  type ServiceSession,
} from '../session/index.js';
import { toServiceClientError } from './errors.js';

/**
 * Signs the module's challenge into an encoded ServiceAuthorizationProof. The station side uses
 * `proveServiceAuthorization(stationKey, authorization, challenge, moduleSerial)`.
 */
export type SignProof = (challenge: Uint8Array, moduleSerial: string) => Promise<Uint8Array>;

export interface ServiceClientOptions {
  session: ServiceSession;
  clock: Clock;
  /** Host description sent in HELLO (app name and version). */
  host: string;
  /** Omit where no authorization is available (unprovisioned module, first provisioning). */
  signProof?: SignProof;
  /** Switch the host's own port; without it the line stays at its initial rate. */
  setLocalBaudRate?: (baudRate: number) => Promise<void>;
  /** Rates the host may use, fastest first (default: the protocol's list). */
  hostRates?: readonly number[];
}

export interface ConnectResult {
  hello: HelloResponse;
  baud: BaudNegotiationResult | undefined;
}

export type CallOptions = Pick<RequestOptions, 'signal' | 'timeoutMs' | 'retries'>;

const AUTHORIZATION_CODES: readonly ErrorCode[] = [
  ErrorCode.AUTHORIZATION_REQUIRED,
  ErrorCode.AUTHORIZATION_INVALID,
];

export class ServiceClient {
  readonly session: ServiceSession;
  readonly clock: Clock;
  readonly #options: ServiceClientOptions;
  #hello: HelloResponse | undefined;
  /** One proof per connection (section 9): shared by every request, even those sent at once. */
  #proof: Promise<Uint8Array> | undefined;

  constructor(options: ServiceClientOptions) {
    this.#options = options;
    this.session = options.session;
    this.clock = options.clock;
  }

  /** What the module said in HELLO; undefined before connect(). */
  get module(): HelloResponse | undefined {
    return this.#hello;
  }

  /** HELLO, refuse another protocol major, then raise the line rate if the host can switch. */
  async connect(options: CallOptions = {}): Promise<ConnectResult> {
    try {
      this.#hello = await hello(this.session, this.#options.host, options);
      let baud: BaudNegotiationResult | undefined;
      const { setLocalBaudRate } = this.#options;
      if (setLocalBaudRate && this.#hello.baudRates.length > 0) {
        baud = await negotiateBaudRate(this.session, {
          clock: this.clock,
          host: this.#options.host,
          moduleRates: this.#hello.baudRates,
          setLocalBaudRate,
          ...(this.#options.hostRates ? { hostRates: this.#options.hostRates } : {}),
        });
      }
      return { hello: this.#hello, baud };
    } catch (error) {
      throw toServiceClientError(error, 'hello');
    }
  }

  /**
   * Any request, with the authorization proof attached when the kind changes state. Rejects with
   * the session's typed errors (the FlashSender needs them raw to tell a lost chunk from a refusal).
   */
  async request<K extends RequestKind>(
    kind: K,
    value: RequestInitOf<K>,
    options: CallOptions = {},
  ): Promise<ResponseOf<K>> {
    const signProof = this.#options.signProof;
    if (!signProof || !changesState(kind)) return this.session.request(kind, value, options);
    const proofBefore = this.#proof;
    const proof = await this.#authorization(signProof, options);
    try {
      return await this.session.request(kind, value, { ...options, serviceAuthorization: proof });
    } catch (error) {
      // A proof from earlier in the connection may have outlived the challenge's freshness or the
      // module may have restarted its challenge: get a fresh one once. A refused request changed
      // nothing, so sending it again is safe even when it is not idempotent.
      if (
        proofBefore === undefined ||
        !(error instanceof RejectedError) ||
        !AUTHORIZATION_CODES.includes(error.code)
      ) {
        throw error;
      }
      if (this.#proof === proofBefore) this.#proof = undefined;
      const fresh = await this.#authorization(signProof, options);
      return this.session.request(kind, value, { ...options, serviceAuthorization: fresh });
    }
  }

  #authorization(signProof: SignProof, options: CallOptions): Promise<Uint8Array> {
    if (!this.#proof) {
      const proof = this.session
        .request('moduleChallenge', {}, options)
        .then((challenge) => signProof(challenge.nonce, this.#hello?.moduleSerial ?? ''));
      // a failed attempt must not poison the connection: the next request asks again
      proof.catch(() => {
        if (this.#proof === proof) this.#proof = undefined;
      });
      this.#proof = proof;
    }
    return this.#proof;
  }

  /** A call whose failure is shown to the mechanic: wrapped into a ServiceClientError. */
  async #call<K extends RequestKind>(
    kind: K,
    value: RequestInitOf<K>,
    options: CallOptions,
  ): Promise<ResponseOf<K>> {
    try {
      return await this.request(kind, value, options);
    } catch (error) {
      throw toServiceClientError(error, kind);
    }
  }

  deviceInfo(options: CallOptions = {}) {
    return this.#call('deviceInfo', {}, options);
  }
  vehicleInfo(options: CallOptions = {}) {
    return this.#call('vehicleInfo', {}, options);
  }
  flashStatus(options: CallOptions = {}) {
    return this.#call('flashStatus', {}, options);
  }
  flashConfirm(options: CallOptions = {}) {
    return this.#call('flashConfirm', {}, options);
  }
  /** Self-tests may actuate the car and take long; pass a longer timeoutMs for slow ones. */
  selfTest(testIds: readonly string[], options: CallOptions = {}) {
    return this.#call('selfTestRun', { testIds: [...testIds] }, options);
  }
  readFaultCodes(options: CallOptions = {}) {
    return this.#call('faultCodesRead', {}, options);
  }
  clearFaultCodes(options: CallOptions = {}) {
    return this.#call('faultCodesClear', {}, options);
  }
  readLog(fromSequence: bigint, maxEntries = 0, options: CallOptions = {}) {
    return this.#call('logRead', { fromSequence, maxEntries }, options);
  }
  /** The module checks the serial so a reset cannot hit the wrong module by accident. */
  factoryReset(confirmModuleSerial: string, options: CallOptions = {}) {
    return this.#call('factoryReset', { confirmModuleSerial }, options);
  }
  provisionBegin(cloudNonce: Uint8Array, options: CallOptions = {}) {
    return this.#call('provisionBegin', { cloudNonce }, options);
  }
  provisionCommit(value: RequestInitOf<'provisionCommit'>, options: CallOptions = {}) {
    return this.#call('provisionCommit', value, options);
  }
  /** A fresh nonce to relay (provisioning) or sign; each call gives a new one. */
  moduleChallenge(options: CallOptions = {}) {
    return this.#call('moduleChallenge', {}, options);
  }
}
