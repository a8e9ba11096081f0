/**
 * Schema validation at the edge, one mechanism for everything that crosses into the cloud: HTTP
 * requests (Fastify's validator compiler), configuration and seed files. Ajv with the contract's
 * formats; unknown fields are errors, never silently dropped (Fastify's default strips them).
 *
 * Bodies are checked as sent: no type coercion, so `"42"` is not a number. Path, query and
 * headers arrive as strings, so those get Ajv's coercion ("1" -> 1, "a" -> ["a"]).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';
import { API_FORMATS } from '@mini-sharing/shared-protocol/api';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

function createAjv(coerceTypes: false | 'array'): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    removeAdditional: false,
    useDefaults: true,
    coerceTypes,
    // Errors carry the offending value, so messages can quote it (a bad VIN says why it is bad).
    verbose: true,
    // TypeBox schemas carry annotations (examples, contentEncoding) Ajv's strict mode flags.
    strict: false,
  });
  addFormats(ajv);
  for (const [name, check] of Object.entries(API_FORMATS)) ajv.addFormat(name, check);
  return ajv;
}

const strictAjv = createAjv(false);
const coercingAjv = createAjv('array');

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema);

export interface ValidationProblem {
  /** JSON path: `body.optionCodes[2]`, `params.vin`, `dealers[0].market`. */
  path: string;
  message: string;
  keyword: string;
  /** The format that failed, for `format` problems. */
  format?: string;
  /** The offending value, when there is one. */
  value?: unknown;
  /** The values allowed, for `enum` and `const` problems. */
  allowed?: unknown[];
}

/** `/optionCodes/2` under `body` -> `body.optionCodes[2]`. */
function jsonPath(prefix: string, instancePath: string, property?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (property !== undefined) parts.push(property);
  let path = prefix;
  for (const part of parts) {
    path += /^\d+$/.test(part) ? `[${part}]` : path === '' ? part : `.${part}`;
  }
  return path;
}

/** Ajv's errors in words: one problem per error, with the path where it is. */
export function describeAjvErrors(
  errors: readonly ErrorObject[],
  prefix = '',
): ValidationProblem[] {
  return errors.map((error) => {
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'additionalProperties': {
        const field = String(params.additionalProperty);
        return {
          path: jsonPath(prefix, error.instancePath, field),
          message: `unknown field "${field}"`,
          keyword: error.keyword,
        };
      }
      case 'required': {
        const field = String(params.missingProperty);
        return {
          path: jsonPath(prefix, error.instancePath, field),
          message: `"${field}" is missing`,
          keyword: error.keyword,
        };
      }
      case 'enum':
      case 'const': {
        const allowed =
          error.keyword === 'enum' ? (params.allowedValues as unknown[]) : [params.allowedValue];
        return {
          path: jsonPath(prefix, error.instancePath),
          message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`,
          keyword: error.keyword,
          value: error.data,
          allowed,
        };
      }
      case 'format':
        return {
          path: jsonPath(prefix, error.instancePath),
          message: `must be a ${String(params.format)}`,
          keyword: error.keyword,
          format: String(params.format),
          value: error.data,
        };
      default:
        return {
          path: jsonPath(prefix, error.instancePath),
          message: error.message ?? `fails ${error.keyword}`,
          keyword: error.keyword,
          value: error.data,
        };
    }
  });
}

/**
 * A union of literals (TypeBox's enums) fails once per branch and once for the union: say it
 * once, with every allowed value.
 */
export function mergeUnionProblems(problems: readonly ValidationProblem[]): ValidationProblem[] {
  const merged: ValidationProblem[] = [];
  const byPath = new Map<string, ValidationProblem>();
  const literalPaths = new Set(problems.filter((p) => p.keyword === 'const').map((p) => p.path));
  for (const problem of problems) {
    if (problem.keyword === 'anyOf' && literalPaths.has(problem.path)) continue;
    if (problem.keyword !== 'const') {
      merged.push(problem);
      continue;
    }
    const earlier = byPath.get(problem.path);
    if (!earlier) {
      const copy = { ...problem, allowed: [...(problem.allowed ?? [])] };
      byPath.set(problem.path, copy);
      merged.push(copy);
      continue;
    }
    earlier.allowed = [...(earlier.allowed ?? []), ...(problem.allowed ?? [])];
    earlier.message = `must be one of ${earlier.allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return merged;
}

export type DocumentCheck<T> =
  { ok: true; value: T } | { ok: false; problems: ValidationProblem[] };

const compiled = new WeakMap<TSchema, ValidateFunction>();

/** Checks a document (config, seed file) against a schema, listing every problem. */
export function checkDocument<S extends TSchema>(
  schema: S,
  value: unknown,
  pathPrefix = '',
): DocumentCheck<Static<S>> {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = strictAjv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return { ok: true, value: value as Static<S> };
  return {
    ok: false,
    problems: mergeUnionProblems(describeAjvErrors(validate.errors ?? [], pathPrefix)),
  };
}

/** `path: message` lines, for errors thrown at start (config, seed). */
export const formatProblems = (problems: readonly ValidationProblem[]): string =>
  problems.map((p) => `  ${p.path === '' ? '(document)' : p.path}: ${p.message}`).join('\n');
