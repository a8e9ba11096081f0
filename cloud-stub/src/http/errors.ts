/**
 * Every error the API answers has one shape, `{ error: { code, message, details } }` (the
 * contract's ApiError): a handler throws an ApiProblem; validation failures, oversized or
 * malformed bodies and unknown routes are turned into the same shape here. 5xx answers say
 * nothing about the cause (it goes to the log with the request id).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import type { ApiError, ApiErrorCode, ApiErrorDetail } from '@mini-sharing/shared-protocol/api';
import { VIN_FORMAT } from '@mini-sharing/shared-protocol/api';
import { describeVinProblem, validateVin } from '@mini-sharing/shared-protocol/vehicle';
import { describeAjvErrors, mergeUnionProblems, type ValidationProblem } from './validation.js';

export class ApiProblem extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details: ApiErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiProblem';
  }
}

export const apiErrorBody = (
  code: ApiErrorCode,
  message: string,
  details: ApiErrorDetail[] = [],
): ApiError => ({ error: { code, message, details } });

function sendProblem(reply: FastifyReply, status: number, body: ApiError): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** A VIN that failed the contract's `vin` format, in validateVin's words: short, or with advice. */
function vinProblem(problem: ValidationProblem, form: 'short' | 'advice'): string {
  const result = validateVin(String(problem.value ?? ''));
  if (result.ok) return 'not a VIN';
  return form === 'short' ? describeVinProblem(result) : result.message;
}

/** The answer to a request that failed its route's schema. */
export function validationFailure(
  errors: readonly ErrorObject[],
  part: string,
): { status: number; body: ApiError } {
  const problems = mergeUnionProblems(describeAjvErrors(errors, part));
  const vin = problems.find((p) => p.keyword === 'format' && p.format === VIN_FORMAT);
  const details = problems.map((p) => ({
    path: p.path,
    message: p === vin ? vinProblem(p, 'short') : p.message,
  }));
  if (vin) {
    return { status: 400, body: apiErrorBody('invalid-vin', vinProblem(vin, 'advice'), details) };
  }
  const unknown = problems.filter((p) => p.keyword === 'additionalProperties');
  if (unknown.length > 0 && unknown.length === problems.length) {
    const fields = unknown.map((p) => p.path).join(', ');
    return {
      status: 400,
      body: apiErrorBody(
        'unknown-field',
        `The request has ${unknown.length === 1 ? 'a field' : 'fields'} this route does not know: ${fields}. Check the spelling against the API document (/openapi.json).`,
        details,
      ),
    };
  }
  const first = details[0];
  const more =
    details.length > 1
      ? ` (and ${details.length - 1} more problem${details.length > 2 ? 's' : ''}, see details)`
      : '';
  return {
    status: 400,
    body: apiErrorBody(
      'invalid-request',
      first ? `${first.path}: ${first.message}${more}` : `The request ${part} is not valid.`,
      details,
    ),
  };
}

export function errorHandler(
  error: FastifyError | ApiProblem | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof ApiProblem) {
    return sendProblem(
      reply,
      error.statusCode,
      apiErrorBody(error.code, error.message, error.details),
    );
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const { status, body } = validationFailure(
      fastifyError.validation as ErrorObject[],
      fastifyError.validationContext ?? 'request',
    );
    return sendProblem(reply, status, body);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = request.routeOptions.bodyLimit;
      return sendProblem(
        reply,
        413,
        apiErrorBody(
          'payload-too-large',
          `The request body is larger than this route accepts (${limit} bytes at most).`,
        ),
      );
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendProblem(
        reply,
        415,
        apiErrorBody(
          'unsupported-media-type',
          `This route reads application/json bodies, not ${request.headers['content-type'] ?? 'a body without Content-Type'}.`,
        ),
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return sendProblem(
        reply,
        400,
        apiErrorBody('malformed-json', `The request body is not valid JSON: ${error.message}`),
      );
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's other client errors (prototype poisoning, bad URL, …): their words are safe.
    return sendProblem(reply, status, apiErrorBody('invalid-request', error.message));
  }
  request.log.error({ err: error }, 'request failed');
  if (status === 503) {
    return sendProblem(
      reply,
      503,
      apiErrorBody('unavailable', 'The service is unavailable; retry shortly.'),
    );
  }
  return sendProblem(
    reply,
    500,
    apiErrorBody(
      'internal',
      `The cloud failed to answer this request (request id ${request.id}); it has been logged.`,
    ),
  );
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(
    reply,
    404,
    apiErrorBody(
      'not-found',
      `There is no route ${request.method} ${request.url.split('?')[0]}. The routes are listed in /openapi.json.`,
    ),
  );
}
