/**
 * A contract route as Fastify route options: method, path, the contract's schemas (with the
 * OpenAPI operation fields), the declared access and the body limit. Domain plugins spread this
 * and add their handler, so a route cannot drift from the contract.
 */
import type { ApiRoute, RouteSchema } from '@mini-sharing/shared-protocol/api';

export function routeOptions<S extends RouteSchema>(contract: ApiRoute<S>) {
  return {
    method: contract.method,
    url: contract.url,
    ...(contract.bodyLimit === undefined ? {} : { bodyLimit: contract.bodyLimit }),
    config: { access: contract.access },
    schema: {
      ...contract.schema,
      operationId: contract.operationId,
      summary: contract.summary,
      ...(contract.description === undefined ? {} : { description: contract.description }),
      tags: [...contract.tags],
      // Who may call it, in the OpenAPI document too (OpenAPI has no roles of its own).
      'x-access': contract.access,
    },
  };
}
