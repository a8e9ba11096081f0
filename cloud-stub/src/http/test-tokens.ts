/**
 * Test tokens: a Principal without a sign-in, for tests and local development. A token is a
 * Principal, HMAC-SHA256-signed with a secret the cloud was started with, sent in the
 * `x-test-principal` header (real callers sign in: accounts/plugin.ts):
 *
 *   base64url(JSON principal) "." base64url(HMAC-SHA256(secret, that first part))
 *
 * The cloud accepts them only when configured with a test token secret (tests, local
 * development); it logs a warning at start when it does. Never enable them on a real service.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Authenticate, Principal } from './auth.js';
import { ApiProblem } from './errors.js';
import { checkDocument } from './validation.js';

export const TEST_PRINCIPAL_HEADER = 'x-test-principal';

const Id = Type.String({ minLength: 1, maxLength: 100 });
const PrincipalSchema = Type.Union([
  Type.Object({ role: Type.Literal('customer'), accountId: Id }, { additionalProperties: false }),
  Type.Object(
    { role: Type.Literal('mechanic'), accountId: Id, dealerId: Id },
    { additionalProperties: false },
  ),
  Type.Object(
    { role: Type.Literal('dealer-admin'), accountId: Id, dealerId: Id },
    { additionalProperties: false },
  ),
  Type.Object({ role: Type.Literal('agent'), accountId: Id }, { additionalProperties: false }),
]);

const mac = (secret: string, payload: string): Buffer =>
  createHmac('sha256', secret).update(payload).digest();

export function signTestToken(secret: string, principal: Principal): string {
  const payload = Buffer.from(JSON.stringify(principal)).toString('base64url');
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

const refuse = (why: string): never => {
  throw new ApiProblem(401, 'unauthenticated', `The ${TEST_PRINCIPAL_HEADER} token ${why}.`);
};

export function testTokenAuthenticator(secret: string): Authenticate {
  if (secret.length < 16) throw new Error('a test token secret has at least 16 characters');
  return async (request: FastifyRequest) => {
    const header = request.headers[TEST_PRINCIPAL_HEADER];
    if (header === undefined) return undefined;
    if (typeof header !== 'string') return refuse('is sent more than once');
    const [payload, signature, ...rest] = header.split('.');
    if (!payload || !signature || rest.length > 0) return refuse('is not "payload.signature"');
    const expected = mac(secret, payload);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return refuse('has a wrong signature (signed with another secret, or altered)');
    }
    let principal: unknown;
    try {
      principal = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return refuse('does not carry JSON');
    }
    const checked = checkDocument(PrincipalSchema, principal);
    if (!checked.ok) return refuse('does not name a principal');
    return checked.value as Principal;
  };
}
