/**
 * Workshop grants (contract: shared-protocol api/grants.ts): workshop test keys and service
 * authorizations for the caller's workshop station. The rules are in grants.ts, the rate limits
 * in rate-limit.ts, what the owner is told in owner-notice.ts.
 */
import { issueServiceAuthorization, issueWorkshopTestKey } from '@mini-sharing/shared-protocol/api';
import type { FastifyReply } from 'fastify';
import type { CloudPlugin } from '../context.js';
import { requireStationSession, stationPrincipalOf } from '../stations/station-session.js';
import { routeOptions } from '../http/routes.js';
import {
  GrantRateLimited,
  issueServiceAuthorizationGrant,
  issueWorkshopTestKey as issueTestKey,
  type GrantDeps,
} from './grants.js';

/** Runs `issue`; a rate-limited refusal gets its Retry-After header on the way out. */
async function withRetryAfter<T>(reply: FastifyReply, issue: () => Promise<T>): Promise<T> {
  try {
    return await issue();
  } catch (error) {
    if (error instanceof GrantRateLimited) {
      void reply.header('retry-after', String(error.retryAfterSeconds));
    }
    throw error;
  }
}

export const grantsPlugin: CloudPlugin = async (app, { context }) => {
  const deps: GrantDeps = { storage: context.storage, keys: context.keys, now: context.now };

  app.route({
    ...routeOptions(issueWorkshopTestKey),
    onRequest: requireStationSession('Workshop test keys are issued'),
    handler: async (request, reply) => {
      const key = await withRetryAfter(reply, () =>
        issueTestKey(deps, {
          principal: stationPrincipalOf(request),
          serial: request.params.serial,
          validForMinutes: request.body.validForMinutes,
        }),
      );
      return reply.code(201).send(key);
    },
  });

  app.route({
    ...routeOptions(issueServiceAuthorization),
    onRequest: requireStationSession('Service authorizations are issued'),
    handler: async (request, reply) => {
      const grant = await withRetryAfter(reply, () =>
        issueServiceAuthorizationGrant(deps, {
          principal: stationPrincipalOf(request),
          serial: request.params.serial,
          operations: request.body.operations,
          validForMinutes: request.body.validForMinutes,
        }),
      );
      return reply.code(201).send(grant);
    },
  });
};
