/**
 * Reading untrusted JSON documents (fleet files, installation reports): parse without throwing,
 * and describe what was found in words an error message can carry.
 */

export type JsonParse = { ok: true; value: unknown } | { ok: false; message: string };

/** A string is always taken as JSON text; anything else as an already-parsed value. */
export function parseJsonInput(input: unknown): JsonParse {
  if (typeof input !== 'string') return { ok: true, value: input };
  try {
    return { ok: true, value: JSON.parse(input) as unknown };
  } catch (error) {
    return {
      ok: false,
      message: `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "missing", "null", "an array", "a string", … */
export function typeName(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
