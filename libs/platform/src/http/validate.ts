/** Turns zod failures on request input into a ValidationError (422) that points at each bad field. */
import { z } from 'zod';
import { type FieldError, ValidationError } from '../errors.ts';

type Where = 'body' | 'query' | 'header';

const escapePointer = (segment: PropertyKey): string => String(segment).replaceAll('~', '~0').replaceAll('/', '~1');

/** The longest name of an unknown member or parameter an error quotes back: the name is the client's, of any length. */
const MAX_QUOTED_NAME = 128;

function fieldError(where: Where, path: readonly PropertyKey[], detail: string): FieldError {
  if (where === 'body') return { pointer: path.map((segment) => `/${escapePointer(segment)}`).join(''), detail };
  const name = String(path[0] ?? '');
  return where === 'query' ? { parameter: name, detail } : { header: name, detail };
}

/**
 * An unknown member is named, unless its name is too long to quote back: a body member is then reported at
 * the object that holds it, a query parameter by the start of its name.
 */
function unknownField(where: Where, path: readonly PropertyKey[], key: string): FieldError {
  const quoted = where === 'body' ? escapePointer(key) : key;
  if (quoted.length <= MAX_QUOTED_NAME) return fieldError(where, [...path, key], 'Unknown field.');
  if (where === 'body') return fieldError(where, path, 'Has an unknown field whose name is too long to quote.');
  const start = [...key].slice(0, 100).join('');
  return fieldError(where, [`${start}…`], 'Unknown field; its name is too long to quote in full.');
}

function toFieldErrors(error: z.ZodError, where: Where): FieldError[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => unknownField(where, issue.path, key))
      : [fieldError(where, issue.path, issue.message)],
  );
}

function parse<S extends z.ZodType>(schema: S, input: unknown, where: Where): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const what = where === 'body' ? 'request body' : where === 'query' ? 'query string' : 'request headers';
  throw new ValidationError(toFieldErrors(result.error, where), `The ${what} is not valid.`);
}

export const parseBody = <S extends z.ZodType>(schema: S, body: unknown): z.infer<S> =>
  parse(schema, body === undefined ? {} : body, 'body');
export const parseQuery = <S extends z.ZodType>(schema: S, query: unknown): z.infer<S> => parse(schema, query, 'query');
export const parseHeaders = <S extends z.ZodType>(schema: S, headers: unknown): z.infer<S> =>
  parse(schema, headers, 'header');

// PostgreSQL text cannot hold NUL, and no field here has a use for other C0 controls but tab and newlines.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const FORBIDDEN_CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/**
 * A length check counted in Unicode code points, as a person counts characters (an emoji is one, not two
 * UTF-16 units). Counts once and reports whichever bound is broken.
 */
export function codePointLength({ min, max }: { min: number; max: number }) {
  return (s: string, ctx: z.RefinementCtx): void => {
    let count = 0;
    for (const _ of s) if (++count > max) break;
    if (count < min) ctx.addIssue({ code: 'custom', message: `Must be at least ${min} characters long.` });
    if (count > max) ctx.addIssue({ code: 'custom', message: `Must be at most ${max} characters long.` });
  };
}

/** A trimmed, well-formed string without control characters, its length counted in Unicode code points. */
export function plainText(bounds: { min: number; max: number }) {
  return (
    z
      .string()
      .trim()
      .refine((s) => !FORBIDDEN_CONTROLS.test(s), { message: 'Must not contain control characters.' })
      // A lone surrogate (\ud800 in JSON) is not text; PostgreSQL would store it as U+FFFD and change the data.
      .refine((s) => s.isWellFormed(), { message: 'Must be valid Unicode text.' })
      .superRefine(codePointLength(bounds))
  );
}

type WithoutDefault<Z> = Z extends z.ZodDefault<infer Inner> ? Inner : Z;
type WithoutDefaults<F> = { [K in keyof F]: WithoutDefault<F[K]> };

/** The same fields with their defaults removed: what a stored object (a response, an event) always has. */
export function withoutDefaults<F extends Record<string, z.ZodType>>(fields: F): WithoutDefaults<F> {
  return Object.fromEntries(
    Object.entries(fields).map(([name, field]) => [
      name,
      field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : field,
    ]),
  ) as WithoutDefaults<F>;
}

/**
 * The RFC 7396 merge-patch body of an object's fields: every member optional and none defaulted (an absent
 * member is left as it is; `null` clears a nullable one), unknown members refused.
 */
export const mergePatchOf = <F extends Record<string, z.ZodType>>(fields: F) =>
  z.strictObject(withoutDefaults(fields)).partial();
