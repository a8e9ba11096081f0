/**
 * Service authorization on the module (PROTOCOL.md section 9). `module_challenge` issues fresh
 * 32-byte nonces; `guard` wraps request handlers so that, on a PROVISIONED module, every request
 * whose `operationForRequest` is defined carries a proof that `verifyServiceAuthorization`
 * accepts (key ring from the stored settings, module clock), or is refused with
 * AUTHORIZATION_REQUIRED / AUTHORIZATION_INVALID before its handler runs, so nothing changes.
 * An unprovisioned (or pending) module accepts everything.
 *
 * Per connection: the challenges issued and the proofs accepted. A proof answering a fresh
 * challenge is accepted once and then for the rest of the connection (one challenge per flash,
 * not one per chunk); call `newConnection()` whenever a new session starts on the port.
 */
import {
  ErrorCode,
  ProvisioningState,
  type RequestKind,
  type RequestOf,
} from '@mini-sharing/shared-protocol/messages';
import {
  ServiceError,
  type RequestContext,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import { bytesEqual, randomBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  operationForRequest,
  verifyServiceAuthorization,
  ServiceOperation,
  type ServiceAuthorization,
} from '@mini-sharing/shared-protocol/trust';
import { SELF_TESTS } from '@mini-sharing/shared-protocol/diagnostics';
import type { ModuleClock } from '../hal/index.js';
import type { IdentityStore } from './identity.js';

export const CHALLENGE_LENGTH = 32;
/** How long a challenge may wait for its first use. */
export const CHALLENGE_VALID_MS = 10_000;
/** Challenges kept per connection; asking for more drops the oldest. */
const MAX_CHALLENGES = 8;
/** Accepted proofs kept per connection. */
const MAX_ACCEPTED = 8;

export interface AuthorizationGuardOptions {
  identity: IdentityStore;
  moduleSerial: string;
  clock: Pick<ModuleClock, 'now' | 'timeKnown' | 'setTime'>;
  challengeValidMs?: number;
  /** Monotonic milliseconds for challenge expiry (default performance.now). */
  elapsedMs?: () => number;
}

interface Connection {
  challenges: Array<{ nonce: Uint8Array; expiresAt: number }>;
  /** Proof (hex) -> its verification, shared by requests that arrive together. */
  accepted: Map<string, Promise<ServiceAuthorization>>;
}

const ACTUATING_TEST_IDS = new Set<string>(
  SELF_TESTS.filter((t) => t.actuatesCar).map((t) => t.id),
);
const KNOWN_TEST_IDS = new Set<string>(SELF_TESTS.map((t) => t.id));

/**
 * The operation a request needs, or undefined. Self-tests need ACTUATING_SELF_TEST only when one
 * of them moves the car: an empty list (the default set) or an unknown id counts as actuating.
 */
export function operationNeeded<K extends RequestKind>(
  kind: K,
  request: RequestOf<K>,
): ServiceOperation | undefined {
  const operation = operationForRequest(kind);
  if (kind === 'selfTestRun') {
    const ids = (request as RequestOf<'selfTestRun'>).testIds;
    const actuates =
      ids.length === 0 || ids.some((id) => !KNOWN_TEST_IDS.has(id) || ACTUATING_TEST_IDS.has(id));
    return actuates ? operation : undefined;
  }
  return operation;
}

export class AuthorizationGuard {
  readonly #options: AuthorizationGuardOptions;
  readonly #validMs: number;
  readonly #elapsed: () => number;
  #connection: Connection = { challenges: [], accepted: new Map() };

  constructor(options: AuthorizationGuardOptions) {
    this.#options = options;
    this.#validMs = options.challengeValidMs ?? CHALLENGE_VALID_MS;
    this.#elapsed = options.elapsedMs ?? (() => performance.now());
  }

  /** Forget this connection's challenges and accepted proofs (a new session started). */
  newConnection(): void {
    this.#connection = { challenges: [], accepted: new Map() };
  }

  /** The `moduleChallenge` handler. */
  readonly handlers: RequestHandlers = {
    moduleChallenge: () => {
      const nonce = randomBytes(CHALLENGE_LENGTH);
      const { challenges } = this.#connection;
      challenges.push({ nonce, expiresAt: this.#elapsed() + this.#validMs });
      if (challenges.length > MAX_CHALLENGES) challenges.shift();
      return {
        nonce,
        issuedAtMs: BigInt(Math.max(0, Math.round(this.#options.clock.now()))),
        validForMs: this.#validMs,
      };
    },
  };

  /** The same handlers, each checking the authorization its request needs first. */
  guard(handlers: RequestHandlers): RequestHandlers {
    const guarded: Record<string, unknown> = {};
    for (const [kind, handler] of Object.entries(handlers) as Array<
      [RequestKind, (request: unknown, context: RequestContext) => unknown]
    >) {
      guarded[kind] = async (request: unknown, context: RequestContext) => {
        await this.authorize(kind, request as RequestOf<typeof kind>, context.serviceAuthorization);
        return handler(request, context);
      };
    }
    return guarded as RequestHandlers;
  }

  /** Resolves when the request may run; otherwise throws the ServiceError to answer. */
  async authorize<K extends RequestKind>(
    kind: K,
    request: RequestOf<K>,
    proof: Uint8Array,
  ): Promise<void> {
    const operation = operationNeeded(kind, request);
    if (operation === undefined) return;
    const provisioned = this.#options.identity.provisioned;
    if (this.#options.identity.state !== ProvisioningState.PROVISIONED || !provisioned) return;
    if (proof.length === 0) {
      throw new ServiceError(
        ErrorCode.AUTHORIZATION_REQUIRED,
        `This module is provisioned: ${kind} needs a service authorization from a registered station`,
        { reason: 'missing' },
      );
    }
    const connection = this.#connection;
    const key = toHex(proof);
    let verification = connection.accepted.get(key);
    if (!verification) {
      verification = this.#verify(proof, operation, provisioned.keyRing);
      connection.accepted.set(key, verification);
      verification.catch(() => connection.accepted.delete(key));
      if (connection.accepted.size > MAX_ACCEPTED) {
        const oldest = connection.accepted.keys().next().value;
        if (oldest !== undefined && oldest !== key) connection.accepted.delete(oldest);
      }
    }
    const authorization = await verification;
    if (!authorization.operations.includes(operation)) {
      throw new ServiceError(
        ErrorCode.AUTHORIZATION_INVALID,
        `The authorization does not allow ${ServiceOperation[operation]}; request one that does`,
        { reason: 'operation-not-allowed' },
      );
    }
  }

  /** First use of a proof: it must answer a live challenge issued on this connection. */
  async #verify(
    proof: Uint8Array,
    operation: ServiceOperation,
    keyRing: NonNullable<IdentityStore['provisioned']>['keyRing'],
  ): Promise<ServiceAuthorization> {
    const { clock, moduleSerial } = this.#options;
    const connection = this.#connection;
    const now = this.#elapsed();
    const live = connection.challenges.filter((c) => c.expiresAt >= now);
    // A random challenge nobody can have answered stands in when none is live.
    const candidates = live.length > 0 ? live.map((c) => c.nonce) : [randomBytes(32)];
    const nowMs = clock.timeKnown ? clock.now() : undefined;
    let refusal: { reason: string; message: string } | undefined;
    for (const challenge of candidates) {
      const verdict = await verifyServiceAuthorization(proof, {
        moduleSerial,
        operation,
        keyRing,
        nowMs,
        challenge,
      });
      if (verdict.ok) {
        // Single use: the proof itself is what stays accepted on this connection.
        connection.challenges = connection.challenges.filter(
          (c) => !bytesEqual(c.nonce, challenge),
        );
        if (!clock.timeKnown) await clock.setTime(verdict.value.signedIssueTimeMs);
        return verdict.value.authorization;
      }
      refusal = verdict;
      // Everything before the challenge check does not depend on the challenge.
      if (verdict.reason !== 'challenge-mismatch') break;
    }
    const { reason, message } = refusal ?? { reason: 'challenge-mismatch', message: '' };
    throw new ServiceError(
      reason === 'missing' ? ErrorCode.AUTHORIZATION_REQUIRED : ErrorCode.AUTHORIZATION_INVALID,
      reason === 'challenge-mismatch'
        ? 'The authorization does not answer a live challenge of this connection; ask the module for a new one'
        : message,
      { reason },
    );
  }
}
