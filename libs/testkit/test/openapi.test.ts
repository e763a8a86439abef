import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ContractViolationError, openApiContract } from '../src/openapi.ts';

const check = openApiContract(fileURLToPath(new URL('../../../specs/api/auth.openapi.yaml', import.meta.url)));
const me = { method: 'GET', path: '/auth/me?fields=all' };
const user = {
  id: '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b',
  email: 'carol@example.com',
  name: null,
  emailVerified: false,
  createdAt: '2026-03-01T12:00:00.000Z',
};
const json = { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req-1' };
const problem = {
  type: 'tag:todo-platform,2026:problems/not-found',
  title: 'Not Found',
  status: 404,
  detail: 'No such path.',
  requestId: 'req-1',
};
const respond = (status: number, headers: Record<string, string>, body: unknown) => ({
  status,
  headers: new Headers(headers),
  body,
});

describe('every response is held to the OpenAPI document', () => {
  it('a response as documented passes, `type: [string, "null"]` included', async () => {
    await expect(check(me, respond(200, json, user))).resolves.toBeUndefined();
    await expect(
      check({ method: 'POST', path: '/auth/logout' }, respond(204, { 'x-request-id': 'r' }, '')),
    ).resolves.toBeUndefined();
    await expect(
      check({ method: 'GET', path: '/nope' }, respond(404, { 'content-type': 'application/problem+json' }, problem)),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['a wrong body', me, respond(200, json, { ...user, name: 42 }), 'body/name must be string'],
    [
      'an undocumented status',
      me,
      respond(418, json, user),
      'status 418 is not documented (documented: 200,401,429,500,503)',
    ],
    [
      'a missing required header',
      me,
      respond(200, { 'content-type': 'application/json' }, user),
      "must have required property 'x-request-id'",
    ],
    [
      'an undeclared content type',
      me,
      respond(200, { ...json, 'content-type': 'text/plain' }, 'hi'),
      'content-type "text/plain" is not one of',
    ],
    [
      'a body where none is declared',
      { method: 'POST', path: '/auth/logout' },
      respond(204, json, user),
      'declares no content, yet has a body',
    ],
    [
      'an unknown path answered 200',
      { method: 'GET', path: '/nope' },
      respond(200, json, user),
      'GET /nope is not in the spec',
    ],
    [
      'an unknown method answered with a body that is no problem',
      { method: 'PUT', path: '/auth/me' },
      respond(405, { 'content-type': 'application/problem+json' }, {}),
      "body must have required property 'type'",
    ],
  ])('fails on %s', async (_, request, response, message) => {
    const failure = check(request, response);
    await expect(failure).rejects.toBeInstanceOf(ContractViolationError);
    await expect(failure).rejects.toThrow(message);
  });
});
