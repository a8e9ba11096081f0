/**
 * The OpenAPI document lists every route the app serves, each with the contract's schemas, its
 * access and the error responses; and the document is itself served by a route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, openApiPath, type ApiRoute } from '@mini-sharing/shared-protocol/api';
import type { CloudApp } from '../src/app.js';
import { openTestStorage, type TestStorage } from '../src/storage/testing/engines.js';
import { testApp } from './helpers.js';

interface Operation {
  operationId?: string;
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  'x-access'?: unknown;
  security?: unknown;
}

describe('the OpenAPI document', () => {
  let storage: TestStorage;
  let cloud: CloudApp;
  let document: { openapi: string; paths: Record<string, Record<string, Operation>> };
  beforeAll(async () => {
    storage = await openTestStorage('sqlite');
    cloud = await testApp(storage);
    const response = await cloud.app.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    document = response.json();
  });
  afterAll(async () => {
    await cloud.app.close();
    await storage.dispose();
  });

  it('is OpenAPI 3.1', () => {
    expect(document.openapi).toBe('3.1.0');
  });

  it('lists every route the app registered, with the schemas it registered', () => {
    const routes = cloud.routes.filter((route) => route.method !== 'HEAD');
    expect(routes.length).toBe(Object.keys(API_ROUTES).length);
    for (const route of routes) {
      const where = `${route.method} ${route.url}`;
      const operation = document.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect(operation, where).toBeDefined();
      if (!operation) continue;
      const schema = route.schema ?? {};
      expect(operation.operationId, where).toBe(schema.operationId);
      expect(operation['x-access'], where).toEqual(route.access);
      const params = (schema.params as { properties?: object } | undefined)?.properties ?? {};
      const query = (schema.querystring as { properties?: object } | undefined)?.properties ?? {};
      for (const name of Object.keys(params)) {
        expect(operation.parameters, `${where} path ${name}`).toContainEqual(
          expect.objectContaining({ in: 'path', name, required: true }),
        );
      }
      for (const name of Object.keys(query)) {
        expect(operation.parameters, `${where} query ${name}`).toContainEqual(
          expect.objectContaining({ in: 'query', name }),
        );
      }
      if (schema.body) {
        const body = operation.requestBody?.content['application/json']?.schema;
        expect(body, `${where} body`).toMatchObject({
          type: 'object',
          additionalProperties: false,
          required: (schema.body as { required?: string[] }).required,
        });
      }
      for (const status of Object.keys(schema.response as object)) {
        expect(operation.responses[status], `${where} ${status}`).toBeDefined();
      }
      if (route.access !== 'anonymous-allowed') {
        expect(operation.security, where).toEqual([{ bearer: [] }]);
        expect(operation.responses['401'], `${where} 401`).toBeDefined();
      }
    }
  });

  it('documents the error shape on every error response', () => {
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400) continue;
          expect(
            response.content?.['application/json']?.schema,
            `${method} ${path} ${status}`,
          ).toMatchObject({
            title: 'ApiError',
            required: ['error'],
          });
        }
      }
    }
  });

  it('matches the contract route for route', () => {
    for (const route of Object.values(API_ROUTES) as ApiRoute[]) {
      const operation = document.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect(operation?.operationId).toBe(route.operationId);
    }
  });
});
