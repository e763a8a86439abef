import { describe, expect, it } from 'vitest';
import { ConflictError, TooManyRequestsError, ValidationError } from '../src/errors.ts';
import { problemType, toProblem } from '../src/http/problem.ts';

describe('errors become RFC 9457 problem details', () => {
  it('a domain error keeps its status, code and field errors', () => {
    const { body, internal } = toProblem(new ValidationError([{ pointer: '/title', detail: 'Too long.' }]));
    expect(internal).toBe(false);
    expect(body).toEqual({
      type: problemType('validation_failed'),
      title: 'Unprocessable Content',
      status: 422,
      detail: 'The request is not valid.',
      errors: [{ pointer: '/title', detail: 'Too long.' }],
    });
    expect(toProblem(new ConflictError('taken', 'email_taken')).body.type).toMatch(/email-taken$/);
  });

  it('a rate limit carries Retry-After in whole seconds', () => {
    const { body, headers } = toProblem(new TooManyRequestsError(12.2));
    expect(body.status).toBe(429);
    expect(headers['Retry-After']).toBe('13');
  });

  it('an exposed client error from a library (body parser, router) keeps its status', () => {
    const { body } = toProblem(Object.assign(new Error('request entity too large'), { status: 413, expose: true }));
    expect(body).toMatchObject({ status: 413, title: 'Content Too Large' });
  });

  it('anything else is a 500 that says nothing about the cause', () => {
    const { body, internal } = toProblem(new Error('duplicate key value violates unique constraint "users_pkey"'));
    expect(internal).toBe(true);
    expect(body.status).toBe(500);
    expect(JSON.stringify(body)).not.toMatch(/users_pkey|duplicate/);
    expect(toProblem(Object.assign(new Error('boom'), { status: 503, expose: false })).body.status).toBe(500);
  });
});
