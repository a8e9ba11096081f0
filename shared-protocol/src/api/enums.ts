import { Type, type TUnsafe } from '@sinclair/typebox';

/** A string enum as one `{ type: "string", enum: [...] }` (a union of literals reads worse in OpenAPI). */
export const StringEnum = <const T extends readonly string[]>(
  values: T,
  options: { description?: string } = {},
): TUnsafe<T[number]> => Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
