import { readFileSync } from 'node:fs';
import { authService } from '@todo/auth-service/definition';
import { bearer, type HttpClient, type TestResponse, type TestUser } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { todoService } from '../src/definition.ts';
import { type Stack, startStack } from './support/stack.ts';

/** Every operation an OpenAPI document lists, with its path parameters filled in. */
function routeTable(specPath: string): { method: string; path: string }[] {
  const doc = parse(readFileSync(specPath, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([template, item]) =>
    Object.keys(item)
      .filter((key) => ['get', 'post', 'put', 'patch', 'delete'].includes(key))
      .map((method) => ({
        method: method.toUpperCase(),
        path: template.replaceAll(/\{[^}]+\}/g, crypto.randomUUID()),
      })),
  );
}

const PUBLIC = /^\/\.well-known\//;

function expectHardened(res: TestResponse, path: string) {
  const where = `${path} → ${res.status}`;
  expect(res.status, where).toBeLessThan(500);
  expect(res.headers.get('x-content-type-options'), where).toBe('nosniff');
  expect(res.headers.get('content-security-policy'), where).toBe("default-src 'none'; frame-ancestors 'none'");
  // Every answer, a 401 or 404 included, says where the caller stands against the per-client floor.
  expect(res.headers.get('ratelimit-policy'), where).toMatch(/"client";q=\d+;w=60/);
  expect(res.headers.get('ratelimit'), where).toMatch(/"client";r=\d+;t=\d+/);
  if (PUBLIC.test(path)) expect(res.headers.get('cache-control'), where).toMatch(/^public, max-age=\d+$/);
  else expect(res.headers.get('cache-control'), where).toBe('no-store');
}

describe('every API response is kept out of caches, sniffing and frames, tells its rate limits, and never echoes what was sent', () => {
  let stack: Stack;
  let user: TestUser;
  const services = () =>
    [
      ['auth', authService.docs.api, stack.auth.http],
      ['todo', todoService.docs.api, stack.api],
    ] as [string, string, HttpClient][];

  beforeAll(async () => {
    stack = await startStack({ captureLogs: true });
    user = await stack.auth.newUser();
  });
  afterAll(() => stack?.stop());

  it('on every route of both services, whatever the answer, and on unknown paths and methods', async () => {
    // A user of its own: the route table includes logging out.
    const user = await stack.auth.newUser();
    for (const [, spec, http] of services()) {
      const routes = routeTable(spec).sort((a) => (a.path === '/auth/logout' ? 1 : -1));
      expect(routes.length).toBeGreaterThanOrEqual(5);
      // Every method and path straight from the spec, with empty bodies: a walk only the raw client can take.
      for (const { method, path } of routes) {
        const body = ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined;
        // Signed in and not, so that both the route's own answers and the 401s are seen.
        expectHardened(await http.request(method, path, { body, token: user.accessToken }), path);
        expectHardened(await http.request(method, path, { body }), path);
      }
      expectHardened(await http.get('/no-such-path', { token: user.accessToken }), '/no-such-path');
      expectHardened(await http.request('PUT', '/todos', { body: {}, token: user.accessToken }), '/todos');
    }
  });

  it('a malformed JSON body holding a password appears in neither the answer nor the logs', async () => {
    const secret = `Sesame-${crypto.randomUUID()}`;
    const malformed = [
      `{"email":"ann@example.com","password":"${secret}"`,
      `{"email":"ann@example.com","password":"${secret}",}`,
      `{"email":"ann@example.com","password":${secret}}`,
    ];
    for (const raw of malformed) {
      for (const path of ['/auth/login', '/auth/register']) {
        const res = await stack.auth.http.post(path, undefined, {
          raw,
          headers: { 'content-type': 'application/json' },
        });
        expect(res.status).toBe(400);
        expect(res.text).not.toContain(secret);
        expect(res.text).not.toContain('Sesame');
      }
      const res = await stack.api.post('/todos', undefined, {
        raw: raw.replace('"password"', '"title"'),
        token: user.accessToken,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.text).not.toContain('Sesame');
    }
    // A well-formed body of the wrong shape is a 422 that names the field, never its value.
    const wrongShape = await stack.auth.http.post('/auth/login', { email: secret, password: [secret] });
    expect(wrongShape.status).toBe(422);
    expect(wrongShape.text).not.toContain('Sesame');
    expect(stack.logs.auth.raw.join('\n')).not.toContain('Sesame');
    expect(stack.logs.todo.raw.join('\n')).not.toContain('Sesame');
    expect(stack.logs.auth.raw.length).toBeGreaterThan(0);
  });

  it('a request id is passed through when it is a short safe token, and replaced otherwise', async () => {
    const given = 'req-2026.11_29';
    const echoed = await stack.client.GET('/todos', {
      headers: { ...bearer(user.accessToken), 'x-request-id': given },
    });
    expect(echoed.response.headers.get('x-request-id')).toBe(given);
    // Request ids the service must not take: the raw client sends them as they are.
    for (const unsafe of ['<script>alert(1)</script>', 'a b', 'x'.repeat(65), '{"level":60}', 'id\u00e9']) {
      const res = await stack.api.get('/todos', { token: user.accessToken, headers: { 'x-request-id': unsafe } });
      const id = res.headers.get('x-request-id');
      expect(id).not.toBe(unsafe);
      expect(id).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    }
  });
});
