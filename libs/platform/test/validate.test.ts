import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../src/errors.ts';
import { parseBody, parseQuery, plainText } from '../src/http/validate.ts';

const catchError = (fn: () => unknown): ValidationError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
};

describe('request validation', () => {
  it('points at nested and escaped fields with JSON pointers, one error per unknown key', () => {
    const schema = z.strictObject({ 'a/b': z.strictObject({ 'c~d': z.number() }) });
    const error = catchError(() => parseBody(schema, { 'a/b': { 'c~d': 'x', extra: 1 } }));
    expect(error.errors?.map((e) => ('pointer' in e ? e.pointer : ''))).toEqual(['/a~1b/c~0d', '/a~1b/extra']);
  });

  it('names query parameters', () => {
    const error = catchError(() => parseQuery(z.object({ limit: z.coerce.number().max(10) }), { limit: '50' }));
    expect(error.errors).toEqual([{ parameter: 'limit', detail: expect.any(String) }]);
  });

  it('plain text is trimmed, counted in code points, and refuses NUL and other controls', () => {
    const text = plainText({ min: 1, max: 3 });
    expect(text.parse('  ab  ')).toBe('ab');
    expect(text.safeParse('🙂🙂🙂').success).toBe(true);
    expect(text.safeParse('🙂🙂🙂🙂').success).toBe(false);
    expect(text.safeParse('a\u0000b').success).toBe(false);
    expect(text.safeParse('a\u001bb').success).toBe(false);
    expect(text.parse('a\nb')).toBe('a\nb');
    expect(text.safeParse('   ').success).toBe(false);
  });
});
