/** The service's own routes: health, and the OpenAPI document of this contract. */
import { Type, type Static } from '@sinclair/typebox';
import { errorResponses } from './errors.js';
import { defineRoute } from './route.js';
import { ANONYMOUS_ALLOWED } from './roles.js';

export const HealthSchema = Type.Object(
  {
    status: Type.Literal('ok'),
    checks: Type.Object({ storage: Type.Literal('ok') }, { additionalProperties: false }),
  },
  { title: 'Health', additionalProperties: false },
);
export type Health = Static<typeof HealthSchema>;

export const getHealth = defineRoute({
  method: 'GET',
  url: '/health',
  operationId: 'getHealth',
  summary: 'Whether the service and its storage answer',
  tags: ['service'],
  access: ANONYMOUS_ALLOWED,
  schema: { response: { 200: HealthSchema, ...errorResponses(503) } },
});

export const getOpenApiDocument = defineRoute({
  method: 'GET',
  url: '/openapi.json',
  operationId: 'getOpenApiDocument',
  summary: 'This API as an OpenAPI 3 document',
  tags: ['service'],
  access: ANONYMOUS_ALLOWED,
  schema: {
    response: {
      200: Type.Object({}, { additionalProperties: true, description: 'OpenAPI 3.x document.' }),
    },
  },
});
