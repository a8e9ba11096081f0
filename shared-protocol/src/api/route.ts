/**
 * A route of the HTTP contract: method, path, who may call it, and the TypeBox schemas of every
 * part of the request and of every answer. The cloud registers exactly these schemas on its
 * routes (so what it validates and what its OpenAPI document says are the contract), and clients
 * derive their request and response types from them with `Static<>`.
 */
import type { TSchema } from '@sinclair/typebox';
import type { RouteAccess } from './roles.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A response that is not JSON (a file download): its media type and the schema of its body. */
export interface ContentResponse {
  readonly description: string;
  readonly content: Readonly<Record<string, { readonly schema: TSchema }>>;
}

export interface RouteSchema {
  readonly params?: TSchema;
  readonly querystring?: TSchema;
  readonly body?: TSchema;
  readonly headers?: TSchema;
  readonly response: Readonly<Record<number, TSchema | ContentResponse>>;
}

export interface ApiRoute<S extends RouteSchema = RouteSchema> {
  readonly method: HttpMethod;
  /** Fastify-style path: `/v1/vehicles/:vin`. */
  readonly url: string;
  /** Stable name of the operation, used as the OpenAPI operationId and by generated clients. */
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly access: RouteAccess;
  /** Largest request body this route accepts, in bytes; the cloud's default when absent. */
  readonly bodyLimit?: number;
  readonly schema: S;
}

/** Keeps the literal schema types, so `Static<typeof route.schema.body>` is exact. */
export const defineRoute = <const S extends RouteSchema>(route: ApiRoute<S>): ApiRoute<S> => route;

/** OpenAPI path of a Fastify-style path: `/v1/vehicles/:vin` -> `/v1/vehicles/{vin}`. */
export const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
