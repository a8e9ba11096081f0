/**
 * Who is calling, and whether they may. Every route declares its access (`config.access`, from
 * the contract: the roles that may call it, or ANONYMOUS_ALLOWED); a route without one cannot be
 * registered. An `authenticate(request)` hook turns the request's credentials into a Principal;
 * the check runs at onRequest, before the body is read, so nobody gets a body parsed or
 * validated on a route they may not call.
 *
 * The app's authenticator resolves `Authorization: Bearer <access token>` to the session's
 * account (accounts/authenticate.ts); tests and local development may also use signed test
 * tokens (test-tokens.ts), accepted only when the cloud was started with their secret.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ANONYMOUS_ALLOWED,
  mayCall,
  type Role,
  type RouteAccess,
} from '@mini-sharing/shared-protocol/api';
import { ApiProblem } from './errors.js';

/** An authenticated caller. Mechanics and dealer admins act for one dealer. */
export type Principal = (
  | { role: 'customer'; accountId: string }
  | { role: 'mechanic'; accountId: string; dealerId: string }
  | { role: 'dealer-admin'; accountId: string; dealerId: string }
  | { role: 'agent'; accountId: string }
) & {
  /** The session the caller signed in with (absent for test tokens). */
  sessionId?: string;
  /** The workshop station the session was signed in at: its key must sign every request. */
  stationId?: string;
};

/**
 * Resolves the caller: a Principal, or undefined for a request without credentials. Throws an
 * ApiProblem (401) for credentials that are present but not valid.
 */
export type Authenticate = (request: FastifyRequest) => Promise<Principal | undefined>;

/** Recognises nobody (an app with only public routes, in tests). */
export const identityNotAvailable: Authenticate = async () => undefined;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (from the contract). Required on every route. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The authenticated caller; undefined for anonymous requests. */
    principal: Principal | undefined;
  }
}

const listRoles = (roles: readonly Role[]): string =>
  roles.length === 1 ? roles[0]! : `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}`;

/**
 * Installs the access check on `app` (the root instance, before any route): refuses to register
 * a route without declared access, and checks every request against its route's access.
 */
export function installAccessControl(app: FastifyInstance, authenticate: Authenticate): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) {
      throw new Error(
        `route ${route.method} ${route.url} declares no access: set config.access to its roles ` +
          `or to ANONYMOUS_ALLOWED`,
      );
    }
  });
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    // No access declared: the not-found handler (every real route has one, see onRoute).
    if (access === undefined) return;
    request.principal = await authenticate(request);
    if (access === ANONYMOUS_ALLOWED) return;
    const principal = request.principal;
    if (principal === undefined) {
      throw new ApiProblem(
        401,
        'unauthenticated',
        `Sign in first: ${request.method} ${request.routeOptions.url} is for ${listRoles(access)} ` +
          `accounts (send Authorization: Bearer <access token> from POST /v1/auth/login).`,
      );
    }
    if (!mayCall(access, principal.role)) {
      throw new ApiProblem(
        403,
        'forbidden',
        `A ${principal.role} account may not use ${request.method} ${request.routeOptions.url}; ` +
          `it is for ${listRoles(access)} accounts.`,
      );
    }
  });
}
