/**
 * `Authorization: Bearer <access token>` -> the Principal of its live session. A request without
 * it falls through to `fallback` (test tokens, when the cloud was started with their secret),
 * else is anonymous.
 */
import type { FastifyRequest } from 'fastify';
import type { Authenticate, Principal } from '../http/auth.js';
import { ApiProblem } from '../http/errors.js';
import type { Storage } from '../storage/storage.js';
import { findLiveSession } from './accounts.js';

const TOKEN = /^[A-Za-z0-9_-]{20,200}$/;

export function bearerAuthenticator(
  storage: Storage,
  now: () => Date,
  fallback?: Authenticate,
): Authenticate {
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (header === undefined) return fallback ? fallback(request) : undefined;
    const match = /^Bearer +(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new ApiProblem(
        401,
        'unauthenticated',
        'The Authorization header must be "Bearer <access token>" (the token from POST /v1/auth/login).',
      );
    }
    const token = match[1]!;
    const session = TOKEN.test(token) ? await findLiveSession(storage.db, token, now()) : undefined;
    if (!session) {
      throw new ApiProblem(
        401,
        'unauthenticated',
        'This access token is not valid: it has expired or its session ended (sign-out, a ' +
          'password change, or a sign-in on another phone). Sign in again.',
      );
    }
    const { accountId, sessionId, role, dealerId, stationId } = session;
    const station = stationId === null ? {} : { stationId };
    if (role === 'mechanic' || role === 'dealer-admin') {
      if (dealerId === null) throw new Error(`account ${accountId} (${role}) has no dealer`);
      return { role, accountId, dealerId, sessionId, ...station } satisfies Principal;
    }
    return { role, accountId, sessionId, ...station } satisfies Principal;
  };
}
