/**
 * Hand-written validators for the simulated vehicle bus: every message that crosses the socket
 * is checked here before anything trusts it. The module package has no schema library yet; a zod
 * schema would replace each combinator one for one.
 *
 * Objects are strict (an unknown property is an error, catching typos on both ends), numbers are
 * finite and bounded, strings and arrays have length caps.
 */

/** Thrown inside a schema only; `parseWith` turns it into a result, so it never escapes. */
class SchemaError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path === '' ? 'message' : path}: ${problem}`);
  }
}

export type Schema<T> = (value: unknown, path: string) => T;
export type Infer<S> = S extends Schema<infer T> ? T : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type SchemaParse<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseWith<T>(schema: Schema<T>, value: unknown, path = ''): SchemaParse<T> {
  try {
    return { ok: true, value: schema(value, path) };
  } catch (error) {
    if (error instanceof SchemaError) return { ok: false, message: error.message };
    throw error;
  }
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  return `${typeof value} ${String(value)}`;
}

export const bool: Schema<boolean> = (value, path) => {
  if (typeof value !== 'boolean') {
    throw new SchemaError(path, `must be true or false, is ${describeValue(value)}`);
  }
  return value;
};

export function num(limits: { min: number; max: number; integer?: boolean }): Schema<number> {
  return (value, path) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new SchemaError(path, `must be a number, is ${describeValue(value)}`);
    }
    if (limits.integer === true && !Number.isInteger(value)) {
      throw new SchemaError(path, `must be a whole number, is ${value}`);
    }
    if (value < limits.min || value > limits.max) {
      throw new SchemaError(path, `must be within ${limits.min}..${limits.max}, is ${value}`);
    }
    return value;
  };
}

export function str(limits: { maxLength: number; pattern?: RegExp }): Schema<string> {
  return (value, path) => {
    if (typeof value !== 'string') {
      throw new SchemaError(path, `must be a string, is ${describeValue(value)}`);
    }
    if (value.length > limits.maxLength) {
      throw new SchemaError(path, `must be at most ${limits.maxLength} characters`);
    }
    if (limits.pattern !== undefined && !limits.pattern.test(value)) {
      throw new SchemaError(path, `must match ${String(limits.pattern)}`);
    }
    return value;
  };
}

export function oneOf<const T extends readonly (string | number | boolean | null)[]>(
  values: T,
): Schema<T[number]> {
  return (value, path) => {
    if (!values.includes(value as T[number])) {
      const listed = values.map((v) => JSON.stringify(v)).join(', ');
      throw new SchemaError(path, `must be one of ${listed}, is ${describeValue(value)}`);
    }
    return value as T[number];
  };
}

export function list<T>(item: Schema<T>, maxItems: number): Schema<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) {
      throw new SchemaError(path, `must be an array, is ${describeValue(value)}`);
    }
    if (value.length > maxItems) throw new SchemaError(path, `must have at most ${maxItems} items`);
    return value.map((element: unknown, index) => item(element, `${path}[${index}]`));
  };
}

/** Any JSON object, unchecked inside: for envelopes whose contents are checked in a second step. */
export const plainObject: Schema<Record<string, unknown>> = (value, path) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SchemaError(path, `must be an object, is ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
};

type Shape = Record<string, Schema<unknown>>;
type Built<R extends Shape, O extends Shape> = Simplify<
  { [K in keyof R]: Infer<R[K]> } & { [K in keyof O]?: Infer<O[K]> }
>;

/** A strict object: `required` must be present, `optional` may be, nothing else may. */
export function record<R extends Shape, O extends Shape = Record<never, never>>(
  required: R,
  optional?: O,
): Schema<Built<R, O>> {
  return (value, path) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new SchemaError(path, `must be an object, is ${describeValue(value)}`);
    }
    const source = value as Record<string, unknown>;
    const at = (key: string) => (path === '' ? key : `${path}.${key}`);
    for (const key of Object.keys(source)) {
      if (!Object.hasOwn(required, key) && !(optional && Object.hasOwn(optional, key))) {
        throw new SchemaError(at(key), 'unknown property');
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(required)) {
      out[key] = schema(Object.hasOwn(source, key) ? source[key] : undefined, at(key));
    }
    for (const [key, schema] of Object.entries(optional ?? {})) {
      if (Object.hasOwn(source, key) && source[key] !== undefined) {
        out[key] = schema(source[key], at(key));
      }
    }
    return out as Built<R, O>;
  };
}

/** Objects told apart by one property's literal value, e.g. `{ fix: true, … } | { fix: false }`. */
export function variants<K extends string, T>(
  key: K,
  byValue: ReadonlyMap<unknown, Schema<T>>,
): Schema<T> {
  return (value, path) => {
    const tag =
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)[key]
        : undefined;
    const schema = byValue.get(tag);
    if (schema === undefined) {
      const listed = [...byValue.keys()].map((v) => JSON.stringify(v)).join(', ');
      throw new SchemaError(path === '' ? key : `${path}.${key}`, `must be one of ${listed}`);
    }
    return schema(value, path);
  };
}

export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return (value, path) => (value === null ? null : schema(value, path));
}
