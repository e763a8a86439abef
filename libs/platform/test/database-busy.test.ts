import { DriverException } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { DatabaseBusyError } from '../src/errors.ts';
import { problemType, toProblem } from '../src/http/problem.ts';

describe('a busy database pool is a 503 database-busy, however the ORM passes it on', () => {
  it('says nothing internal and asks the client to come back after Retry-After', () => {
    const { body, headers, internal } = toProblem(new DatabaseBusyError(2, new Error('timeout exceeded')));
    expect(body).toEqual({
      type: problemType('database_busy'),
      title: 'Service Unavailable',
      status: 503,
      detail: 'The service is busy right now; nothing was done. Try again after Retry-After seconds.',
    });
    expect(headers).toEqual({ 'Retry-After': '2' });
    // Still a 5xx for the middlewares that leave server errors to the sink (the OAuth errors).
    expect(internal).toBe(true);
  });

  it('is recognised when MikroORM rethrows it as a DriverException that copied its fields, not its class', () => {
    const wrapped = new DriverException(new DatabaseBusyError(3));
    expect(wrapped).not.toBeInstanceOf(DatabaseBusyError);
    const { body, headers } = toProblem(wrapped);
    expect(body).toMatchObject({ type: problemType('database_busy'), status: 503 });
    expect(headers).toEqual({ 'Retry-After': '3' });
    expect(toProblem(new DriverException(new Error('connection refused'))).body.status).toBe(500);
  });
});
