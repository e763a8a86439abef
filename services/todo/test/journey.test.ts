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

    const registered = await stack.auth.http.post<{ id: string; email: string; createdAt: string }>('/auth/register', {
      email: `  ${email.toUpperCase()} `,
      password,
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ email, name: null });
    expect(registered.body.id).toMatch(/^[0-9a-f-]{36}$/);

    const login = await stack.auth.http.post<{ access_token: string; token_type: string; expires_in: number }>(
      '/auth/login',
      { email, password },
    );
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.body.token_type).toBe('Bearer');
    expect(login.body.expires_in).toBe(900);
    const token = login.body.access_token;

    const jwks = await stack.auth.http.get<{ keys: Record<string, unknown>[] }>('/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    for (const key of jwks.body.keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    }
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body as never), {
      issuer: stack.auth.config.JWT_ISSUER,
      audience: 'todo-api',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(payload.sub).toBe(registered.body.id);
    expect(payload).toHaveProperty('jti');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);

    const created = await stack.api.post<{ id: string; title: string; done: boolean }>(
      '/todos',
      { title: '  Water the plants  ' },
      { token },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'Water the plants', done: false, description: null, version: 1 });
    expect(created.headers.get('location')).toBe(`/todos/${created.body.id}`);

    const list = await stack.api.get<{ items: { id: string }[]; nextCursor: string | null }>('/todos', { token });
    expect(list.status).toBe(200);
    expect(list.body.items.map((t) => t.id)).toEqual([created.body.id]);
    expect(list.body.nextCursor).toBeNull();

    const one = await stack.api.get<{ id: string }>(`/todos/${created.body.id}`, { token });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(created.body);
  });

  it('reports both services ready on their ops ports, which serve no API', async () => {
    for (const [ops, events] of [
      [stack.ops, { nats: 'ok', outbox: 'ok', revocations: 'ok', jwks: 'ok' }],
      [stack.auth.ops, { nats: 'ok', outbox: 'ok' }],
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
    // The public port of the todo service has only JWT-protected routes.
    expect((await stack.api.get('/docs')).status).toBe(401);
    expect((await stack.api.get('/openapi.json')).status).toBe(401);
  });
});
