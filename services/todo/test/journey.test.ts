import { bearer, dataOf } from '@todo/testkit';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

describe('a new user signs up and keeps a todo list', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it('registers, logs in, verifies the token against the JWKS, then creates and lists a todo', async () => {
    const email = `journey-${Date.now()}@example.com`;
    const password = 'a long and sturdy passphrase';

    const registered = await stack.auth.client.POST('/auth/register', {
      body: { email: `  ${email.toUpperCase()} `, password },
    });
    expect(registered.response.status).toBe(201);
    expect(registered.data).toMatchObject({ email, name: null });
    expect(registered.data?.id).toMatch(/^[0-9a-f-]{36}$/);

    const login = await stack.auth.client.POST('/auth/login', { body: { email, password } });
    expect(login.response.status).toBe(200);
    expect(login.response.headers.get('cache-control')).toBe('no-store');
    expect(login.data?.token_type).toBe('Bearer');
    expect(login.data?.expires_in).toBe(900);
    const token = dataOf(login).access_token;

    const jwks = await stack.auth.client.GET('/.well-known/jwks.json');
    expect(jwks.response.status).toBe(200);
    for (const key of jwks.data?.keys ?? []) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    }
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.data as never), {
      issuer: stack.auth.config.JWT_ISSUER,
      audience: 'todo-api',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(payload.sub).toBe(registered.data?.id);
    expect(payload).toHaveProperty('jti');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);

    const created = await stack.client.POST('/todos', {
      body: { title: '  Water the plants  ' },
      headers: bearer(token),
    });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ title: 'Water the plants', done: false, description: null, version: 1 });
    expect(created.response.headers.get('location')).toBe(`/todos/${created.data?.id}`);

    const list = await stack.client.GET('/todos', { headers: bearer(token) });
    expect(list.response.status).toBe(200);
    expect(list.data?.items.map((t) => t.id)).toEqual([created.data?.id]);
    expect(list.data?.nextCursor).toBeNull();

    const one = await stack.client.GET('/todos/{id}', {
      params: { path: { id: dataOf(created).id } },
      headers: bearer(token),
    });
    expect(one.response.status).toBe(200);
    expect(one.data).toEqual(created.data);
  });

  it('reports both services ready on their ops ports, which serve no API', async () => {
    for (const [ops, events] of [
      [stack.ops, { nats: 'ok', outbox: 'ok', revocations: 'ok', jwks: 'ok' }],
      [stack.auth.ops, { nats: 'ok', outbox: 'ok', mail: 'ok' }],
    ] as const) {
      const ready = await ops.get<{ status: string; checks: Record<string, string>; details: Record<string, string> }>(
        '/readyz',
      );
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toEqual({ database: 'ok' });
      expect(ready.body.details).toEqual(events);
      expect((await ops.get('/healthz')).status).toBe(200);
      expect((await ops.get('/metrics')).text).toContain('http_request_duration_seconds');
    }
    expect((await stack.ops.get('/todos')).status).toBe(404);
  });

  it('serves each OpenAPI document and its docs page on the ops port only', async () => {
    for (const [ops, title] of [
      [stack.ops, 'Todo API'],
      [stack.auth.ops, 'Auth API'],
    ] as const) {
      const doc = await ops.get<{ openapi: string; info: { title: string } }>('/openapi.json');
      expect(doc.status).toBe(200);
      expect(doc.body.openapi).toBe('3.1.0');
      const page = await ops.get('/docs');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.text).toContain(title);
      expect(page.text).not.toMatch(/https?:\/\//);
    }
    // The public port of the todo service has only JWT-protected routes (paths not in its spec: the raw client).
    expect((await stack.api.get('/docs')).status).toBe(401);
    expect((await stack.api.get('/openapi.json')).status).toBe(401);
  });
});
