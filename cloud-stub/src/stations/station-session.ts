/**
 * Routes that only a workshop station may use (registering a module, installation reports,
 * workshop test keys and service authorizations): the caller must be a mechanic or dealer admin
 * whose session was signed in at an approved station — and every request of such a session is
 * signed by the station key (signature.ts). The check runs at onRequest, before the body is
 * read, so a session signed in elsewhere (a dealer admin in the admin portal) gets the same 403
 * whatever it sends.
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../http/auth.js';
import { ApiProblem } from '../http/errors.js';

/** A mechanic or dealer admin signed in at a workshop station. */
export type StationPrincipal = Extract<Principal, { role: 'mechanic' | 'dealer-admin' }> & {
  stationId: string;
};

export const isStationPrincipal = (
  principal: Principal | undefined,
): principal is StationPrincipal =>
  (principal?.role === 'mechanic' || principal?.role === 'dealer-admin') &&
  principal.stationId !== undefined;

/**
 * An onRequest hook refusing (403) every session not signed in at a station. `what` names the
 * action for the message: "Modules are registered", "Installation reports are taken".
 */
export function requireStationSession(what: string) {
  return async (request: FastifyRequest): Promise<void> => {
    if (isStationPrincipal(request.principal)) return;
    throw new ApiProblem(
      403,
      'forbidden',
      `${what} only at a workshop station: sign in at an approved workshop station of your ` +
        'dealer (the workshop app does this), then try again.',
    );
  };
}

/** The caller of a route behind requireStationSession. */
export function stationPrincipalOf(request: FastifyRequest): StationPrincipal {
  const principal = request.principal;
  if (!isStationPrincipal(principal)) throw new Error('requireStationSession did not run');
  return principal;
}
