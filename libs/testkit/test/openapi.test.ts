import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResponseCheck } from '../src/http.ts';
import { ContractViolationError, openApiContract } from '../src/openapi.ts';

const authSpec = fileURLToPath(new URL('../../../specs/api/auth.openapi.yaml', import.meta.url));

const user = {
  id: '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b',
  email: 'carol@example.com',
  name: 'Carol',
  createdAt: '2026-03-01T12:00:00.000Z',
};

const tokens = {
  access_token: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
  token_type: 'Bearer',
  expires_in: 900,
  refresh_token: 'rt_0123456789abcdef',
  refresh_expires_in: 2_592_000,
  user,
};

const problemType = (code: string): string => `tag:todo-platform,2026:problems/${code}`;

const json = (extra: Record<string, string> = {}): Headers =>
  new Headers({ 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req-1', ...extra });

const problemHeaders = (extra: Record<string, string> = {}): Headers =>
  new Headers({ 'content-type': 'application/problem+json; charset=utf-8', 'x-request-id': 'req-1', ...extra });

/** The message of what `run` throws, failing the test when it throws nothing or something else. */
function violation(run: () => void): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ContractViolationError);
    return (error as Error).message;
  }
  throw new Error('expected a contract violation, but the response passed');
}

describe('openApiContract against the auth spec', () => {
  const check = openApiContract(authSpec);
  const login = { method: 'POST', path: '/auth/login' };

  it('passes a conforming login response', () => {
    expect(() =>
      check(login, { status: 200, headers: json({ 'cache-control': 'no-store' }), body: tokens }),
    ).not.toThrow();
  });

  it('loads the document once per path', () => {
    // Same compiled contract: a second check for the same spec passes the same response the same way.
    const again = openApiContract(authSpec);
    expect(() =>
      again(login, { status: 200, headers: json({ 'cache-control': 'no-store' }), body: tokens }),
    ).not.toThrow();
  });

  it('rejects an extra property in the user, naming the operation, the status, the place and the body', () => {
    const message = violation(() =>
      check(login, {
        status: 200,
        headers: json({ 'cache-control': 'no-store' }),
        body: { ...tokens, user: { ...user, passwordHash: 'x' } },
      }),
    );
    expect(message).toContain('POST /auth/login');
    expect(message).toContain('logIn');
    expect(message).toContain('→ 200');
    expect(message).toContain('body/user: must NOT have additional properties ("passwordHash")');
    expect(message).toContain('"refresh_token":"rt_0123456789abcdef"');
  });

  it('reports every error at once, not only the first', () => {
    const message = violation(() =>
      check(login, {
        status: 200,
        headers: json({ 'cache-control': 'no-store' }),
        body: { ...tokens, token_type: 'bearer', expires_in: 0, user: { ...user, id: 'not-a-uuid' } },
      }),
    );
    expect(message).toContain('body/token_type: must be equal to constant');
    expect(message).toContain('body/expires_in: must be >= 1');
    expect(message).toContain('body/user/id: must match format "uuid"');
  });

  it('rejects a response without a header the spec requires', () => {
    const message = violation(() => check(login, { status: 200, headers: json(), body: tokens }));
    expect(message).toContain('header Cache-Control is required but missing');
  });

  it('holds a present header to its schema, reading numbers from the string', () => {
    const rateLimited = {
      type: problemType('rate-limited'),
      title: 'Too Many Requests',
      status: 429,
      detail: 'Too many attempts. Try again later.',
      requestId: 'req-1',
    };
    expect(() =>
      check(login, { status: 429, headers: problemHeaders({ 'retry-after': '30' }), body: rateLimited }),
    ).not.toThrow();
    const message = violation(() =>
      check(login, { status: 429, headers: problemHeaders({ 'retry-after': 'soon' }), body: rateLimited }),
    );
    expect(message).toContain('header Retry-After "soon": must be integer');
  });

  it('rejects a content type the response does not declare', () => {
    const message = violation(() =>
      check(login, {
        status: 200,
        headers: json({ 'cache-control': 'no-store', 'content-type': 'text/html' }),
        body: tokens,
      }),
    );
    expect(message).toContain('content-type text/html is not one of: application/json');
  });

  it('rejects a status the operation does not document', () => {
    const message = violation(() =>
      check(login, {
        status: 404,
        headers: problemHeaders(),
        body: { type: problemType('not-found'), title: 'Not Found', status: 404, detail: 'x', requestId: 'req-1' },
      }),
    );
    expect(message).toContain('status 404 is not documented');
  });

  it('rejects a body on a 204, and ignores the query string when matching the path', () => {
    const logout = { method: 'POST', path: '/auth/logout?scope=global' };
    expect(() => check(logout, { status: 204, headers: json(), body: '' })).not.toThrow();
    const message = violation(() => check(logout, { status: 204, headers: json(), body: { ok: true } }));
    expect(message).toContain('operation logOut, POST /auth/logout, response 204');
    expect(message).toContain('declares no content, yet has a body');
  });

  it('rejects an unknown path answered with 200, and accepts it answered with a 404 problem', () => {
    const unknown = { method: 'GET', path: '/auth/nothing-here' };
    const message = violation(() => check(unknown, { status: 200, headers: json(), body: { ok: true } }));
    expect(message).toContain('no path /auth/nothing-here in the spec');
    expect(message).toContain('expected a 404, 405 or 501 problem, got status 200');
    expect(() =>
      check(unknown, {
        status: 404,
        headers: problemHeaders(),
        body: { type: problemType('not-found'), title: 'Not Found', status: 404, detail: 'x', requestId: 'req-1' },
      }),
    ).not.toThrow();
  });

  it('expects a 405 problem for a method the path does not have', () => {
    const patchMe = { method: 'PATCH', path: '/auth/me' };
    const problem = {
      type: problemType('method-not-allowed'),
      title: 'Method Not Allowed',
      status: 405,
      detail: 'PATCH is not allowed on /auth/me.',
      requestId: 'req-1',
    };
    expect(() =>
      check(patchMe, { status: 405, headers: problemHeaders({ allow: 'GET, DELETE' }), body: problem }),
    ).not.toThrow();
    expect(violation(() => check(patchMe, { status: 200, headers: json(), body: user }))).toContain(
      'no PATCH on /auth/me in the spec',
    );
  });

  it('holds problems to the type the response documents', () => {
    const refresh = { method: 'POST', path: '/auth/refresh' };
    const problem = { title: 'Unauthorized', status: 401, detail: 'The refresh token is spent.', requestId: 'req-1' };
    expect(() =>
      check(refresh, {
        status: 401,
        headers: problemHeaders(),
        body: { ...problem, type: problemType('invalid-grant') },
      }),
    ).not.toThrow();
    expect(
      violation(() =>
        check(refresh, {
          status: 401,
          headers: problemHeaders(),
          body: { ...problem, type: problemType('invalid-token') },
        }),
      ),
    ).toContain('body/type: must be equal to constant');
  });
});

describe('openApiContract for an API that authenticates every request', () => {
  const todoSpec = fileURLToPath(new URL('../../../specs/api/todo.openapi.yaml', import.meta.url));
  const unauthenticated = {
    status: 401,
    headers: problemHeaders({ 'www-authenticate': 'Bearer realm="todo"' }),
    body: {
      type: problemType('missing-token'),
      title: 'Unauthorized',
      status: 401,
      detail: 'No token.',
      requestId: 'r',
    },
  };

  it('accepts a 401 for an unknown path when the document requires authentication everywhere', () => {
    expect(() => openApiContract(todoSpec)({ method: 'GET', path: '/docs' }, unauthenticated)).not.toThrow();
  });

  it('still refuses that 401 for an API without a global security requirement', () => {
    expect(violation(() => openApiContract(authSpec)({ method: 'GET', path: '/nope' }, unauthenticated))).toMatch(
      /got status 401/,
    );
  });
});

describe('openApiContract with path templates and status ranges', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openapi-contract-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const specPath = join(dir, 'todos.openapi.yaml');
  writeFileSync(
    specPath,
    `openapi: 3.1.0
info: { title: todos, version: '1' }
servers: [{ url: /api }]
paths:
  /todos/{id}:
    get:
      operationId: getTodo
      responses:
        '200':
          description: one
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Todo' }
        4XX:
          description: a client error
          content:
            application/problem+json:
              schema: { $ref: '#/components/schemas/Problem' }
        default:
          description: anything else
  /todos/mine:
    get:
      operationId: myTodos
      responses:
        '200':
          description: mine
          content:
            application/json:
              schema: { type: array, items: { $ref: '#/components/schemas/Todo' } }
components:
  schemas:
    Todo:
      type: object
      additionalProperties: false
      required: [id]
      properties: { id: { type: string } }
    Problem:
      type: object
      required: [status]
      properties: { status: { type: integer } }
`,
  );
  let check: ResponseCheck;
  const todoHeaders = new Headers({ 'content-type': 'application/json' });

  it('matches templated paths, with or without the server prefix', () => {
    check = openApiContract(specPath);
    expect(() =>
      check({ method: 'GET', path: '/todos/42' }, { status: 200, headers: todoHeaders, body: { id: '42' } }),
    ).not.toThrow();
    expect(() =>
      check(
        { method: 'get', path: '/api/todos/42?fields=id' },
        { status: 200, headers: todoHeaders, body: { id: '42' } },
      ),
    ).not.toThrow();
  });

  it('prefers a concrete path over a templated one', () => {
    expect(() =>
      check({ method: 'GET', path: '/todos/mine' }, { status: 200, headers: todoHeaders, body: [{ id: '1' }] }),
    ).not.toThrow();
    expect(
      violation(() =>
        check({ method: 'GET', path: '/todos/mine' }, { status: 200, headers: todoHeaders, body: { id: '1' } }),
      ),
    ).toContain('operation myTodos, GET /todos/mine');
  });

  it('falls back to the status range, then to default', () => {
    const problemJson = new Headers({ 'content-type': 'application/problem+json' });
    expect(() =>
      check({ method: 'GET', path: '/todos/42' }, { status: 404, headers: problemJson, body: { status: 404 } }),
    ).not.toThrow();
    expect(
      violation(() => check({ method: 'GET', path: '/todos/42' }, { status: 404, headers: problemJson, body: {} })),
    ).toContain('response 4XX');
    // `default` declares no content, so a 503 passes only without a body.
    expect(() =>
      check({ method: 'GET', path: '/todos/42' }, { status: 503, headers: new Headers(), body: '' }),
    ).not.toThrow();
    expect(
      violation(() =>
        check({ method: 'GET', path: '/todos/42' }, { status: 503, headers: new Headers(), body: 'down' }),
      ),
    ).toContain('response default declares no content');
  });

  it('answers HEAD like GET but without a body', () => {
    expect(() =>
      check({ method: 'HEAD', path: '/todos/42' }, { status: 200, headers: todoHeaders, body: '' }),
    ).not.toThrow();
  });
});

describe('openApiContract on a broken document', () => {
  it('fails when the document is loaded, naming the dangling $ref', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openapi-contract-'));
    try {
      const specPath = join(dir, 'broken.yaml');
      writeFileSync(
        specPath,
        `openapi: 3.1.0
info: { title: broken, version: '1' }
paths:
  /x:
    get:
      responses:
        '200': { $ref: '#/components/responses/Missing' }
`,
      );
      expect(() => openApiContract(specPath)).toThrow(/dangling \$ref "#\/components\/responses\/Missing"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
