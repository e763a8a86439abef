import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearer, type TestUser } from '@todo/testkit';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

/** Debian's package; .ci/run installs it when it is missing. Never searched for, never skipped. */
const CHROMIUM = '/usr/bin/chromium';
const APP = 'https://app.example.com';
const ELSEWHERE = 'https://elsewhere.example.com';
const ALLOWED_HEADERS = 'Authorization,Content-Type,If-Match,If-None-Match,Idempotency-Key,X-Request-Id';
const EXPOSED_HEADERS =
  'ETag,Location,RateLimit,RateLimit-Policy,Retry-After,Idempotent-Replayed,X-Request-Id,WWW-Authenticate';

/** The app's page, served on a localhost port of its own: that port makes its origin. */
async function servePage(): Promise<{ origin: string; close(): Promise<void> }> {
  const page = readFileSync(new URL('./support/cors-page.html', import.meta.url));
  const server = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://page').pathname !== '/') res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A preflight is not an operation of either API: plain fetch, no contract. */
const preflight = (url: string, origin: string, method = 'POST') =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization,content-type,idempotency-key',
    },
  });

/** A login that fails, each with an email of its own: no account's login limits fill up. */
const wrongLogin = () => ({ email: `nobody-${crypto.randomUUID()}@example.com`, password: 'not the password' });

const corsHeadersOf = (headers: Headers) => [...headers.keys()].filter((name) => name.startsWith('access-control-'));

/** What the page saw of each step (see support/cors-page.html). */
interface Step {
  status: number;
  body: Record<string, unknown> | null;
  headers: Record<string, string | null>;
}
interface PageOutcome {
  steps: Record<string, Step>;
  error?: string;
}

describe('browser apps on the configured origins may call both APIs, and no other origin may', () => {
  let stack: Stack;
  let browser: Browser;
  let user: TestUser;
  let appPage: Awaited<ReturnType<typeof servePage>>;
  let otherPage: Awaited<ReturnType<typeof servePage>>;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install chromium (CI installs it, see .ci/run)`);
    }
    [appPage, otherPage] = await Promise.all([servePage(), servePage()]);
    const origins = `${APP},${appPage.origin}`;
    [stack, browser] = await Promise.all([
      startStack({
        authEnv: { CORS_ORIGINS: origins },
        // A small read quota, so that a 429 is quick to reach; each story reads as a user of its own.
        todoEnv: { CORS_ORIGINS: origins, RATE_LIMIT_READS_PER_MINUTE: '5' },
      }),
      // headless: true is Chromium's new headless mode (--headless=new); no sandbox, as CI runs as root.
      puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] }),
    ]);
    user = await stack.auth.newUser();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([appPage?.close(), otherPage?.close()]);
    await stack?.stop();
  });

  it('a preflight from a configured origin is answered at once, before any token is asked for, on both services', async () => {
    for (const url of [`${stack.todo.url}/todos`, `${stack.auth.url}/auth/me`, `${stack.auth.url}/auth/register`]) {
      const res = await preflight(url, APP, 'PATCH');
      expect(res.status, url).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), url).toBe(APP);
      expect(res.headers.get('access-control-allow-methods'), url).toBe('GET,HEAD,POST,PUT,PATCH,DELETE');
      expect(res.headers.get('access-control-allow-headers'), url).toBe(ALLOWED_HEADERS);
      expect(res.headers.get('access-control-max-age'), url).toBe('600');
      expect(res.headers.get('access-control-allow-credentials'), url).toBeNull();
      expect(res.headers.get('vary'), url).toMatch(/\bOrigin\b/);
      expect(res.headers.get('www-authenticate'), url).toBeNull();
    }
  });

  it('a preflight for a path neither service has is answered alike: permission, not existence', async () => {
    for (const base of [stack.todo.url, stack.auth.url]) {
      const res = await preflight(`${base}/no-such-path`, APP, 'DELETE');
      expect(res.status, base).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), base).toBe(APP);
    }
  });

  it('a preflight from an origin not configured is a 403 problem without a single CORS header', async () => {
    for (const url of [`${stack.todo.url}/todos`, `${stack.auth.url}/auth/login`, `${stack.todo.url}/no-such-path`]) {
      for (const origin of [ELSEWHERE, otherPage.origin, 'null']) {
        const res = await preflight(url, origin);
        expect(res.status, `${url} from ${origin}`).toBe(403);
        expect(corsHeadersOf(res.headers), `${url} from ${origin}`).toEqual([]);
        expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(await res.json()).toMatchObject({
          type: 'tag:todo-platform,2026:problems/origin-not-allowed',
          status: 403,
          requestId: res.headers.get('x-request-id'),
        });
      }
    }
  });

  it('every answer to a configured origin carries the grant and exposes what the app reads, errors included', async () => {
    const from = { origin: APP };
    const granted = (res: { status: number; headers: Headers }, what: string) => {
      expect(res.headers.get('access-control-allow-origin'), what).toBe(APP);
      expect(res.headers.get('access-control-expose-headers'), what).toBe(EXPOSED_HEADERS);
      expect(res.headers.get('access-control-allow-credentials'), what).toBeNull();
      expect(res.headers.get('vary'), what).toMatch(/\bOrigin\b/);
    };
    const asUser = { ...bearer(user.accessToken), ...from };
    const created = await stack.client.POST('/todos', { body: { title: 'Cross-origin' }, headers: asUser });
    expect(created.response.status).toBe(201);
    granted(created.response, '201');

    const unauthenticated = await stack.client.GET('/todos', { headers: from });
    expect(unauthenticated.response.status).toBe(401);
    expect(unauthenticated.response.headers.get('www-authenticate')).toBe('Bearer realm="todo"');
    granted(unauthenticated.response, '401 on todo');

    const unknownTodo = { params: { path: { id: crypto.randomUUID() } }, headers: asUser };
    const answers = [
      [(await stack.client.GET('/todos/{id}', unknownTodo)).response, 404],
      // What no typed client can send: a path or method neither spec has, and a title the spec refuses.
      [await stack.api.get('/no-such-path', { token: user.accessToken, headers: from }), 404],
      [await stack.api.request('PUT', '/todos', { body: {}, token: user.accessToken, headers: from }), 405],
      [await stack.api.post('/todos', { title: '' }, { token: user.accessToken, headers: from }), 422],
      [(await stack.auth.client.POST('/auth/login', { body: wrongLogin(), headers: from })).response, 401],
      [await stack.auth.http.get('/auth/no-such-path', { headers: from }), 404],
    ] as const;
    for (const [res, status] of answers) {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      granted(res, String(status));
    }

    const reader = await stack.auth.newUser();
    const list = async () =>
      (await stack.client.GET('/todos', { headers: { ...bearer(reader.accessToken), ...from } })).response;
    let limited = await list();
    for (let i = 0; i < 5 && limited.status !== 429; i += 1) {
      limited = await list();
    }
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.headers.get('ratelimit')).not.toBeNull();
    granted(limited, '429');
  });

  it('an answer to any other origin, or to a request without one, carries no CORS header at all', async () => {
    for (const headers of [{ origin: ELSEWHERE }, { origin: 'null' }, {}] as Record<string, string>[]) {
      const ok = (await stack.client.GET('/todos', { headers: { ...bearer(user.accessToken), ...headers } })).response;
      const refused = (await stack.client.GET('/todos', { headers })).response;
      const login = (await stack.auth.client.POST('/auth/login', { body: wrongLogin(), headers })).response;
      expect([ok.status, refused.status, login.status]).toEqual([200, 401, 401]);
      for (const res of [ok, refused, login]) {
        expect(corsHeadersOf(res.headers)).toEqual([]);
        expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
      }
    }
  });

  const openPage = async (origin: string, email: string): Promise<PageOutcome> => {
    const page = await browser.newPage();
    try {
      const query = new URLSearchParams({ auth: stack.auth.url, todo: stack.todo.url, email });
      await page.goto(`${origin}/?${query}`);
      return (await page.evaluate('window.outcome')) as PageOutcome;
    } finally {
      await page.close();
    }
  };

  it('in Chromium, a page on a configured origin signs up, logs in, creates, changes and lists todos', async () => {
    const email = `browser-${crypto.randomUUID()}@example.com`;
    const { steps, error } = await openPage(appPage.origin, email);
    expect(error).toBeUndefined();
    expect(steps.register).toMatchObject({ status: 201, body: { email }, headers: { location: '/auth/me' } });
    expect(steps.register?.headers['x-request-id']).toBeTruthy();
    expect(steps.login?.status).toBe(200);
    expect(steps.login?.headers.ratelimit).toBeTruthy();
    expect(steps.login?.headers['ratelimit-policy']).toBeTruthy();

    const create = steps.create;
    expect(create).toMatchObject({ status: 201, body: { title: 'Written in a browser' }, headers: { etag: '"v1"' } });
    expect(create?.headers.location).toBe(`/todos/${create?.body?.id}`);
    expect(create?.headers.ratelimit).toBeTruthy();
    expect(create?.headers['ratelimit-policy']).toBeTruthy();
    expect(create?.headers['x-request-id']).toBeTruthy();
    // Sent, but not exposed: the browser keeps it from the page (Node's fetch would not).
    expect(create?.headers['content-security-policy']).toBeNull();

    expect(steps.replay).toMatchObject({
      status: 201,
      body: create?.body,
      headers: { 'idempotent-replayed': 'true', location: create?.headers.location, etag: '"v1"' },
    });
    expect(steps.change).toMatchObject({ status: 200, body: { done: true, version: 2 }, headers: { etag: '"v2"' } });
    expect(steps.list).toMatchObject({ status: 200, body: { items: [{ id: create?.body?.id, done: true }] } });
    expect(steps.list?.headers.ratelimit).toBeTruthy();
    expect(steps.withoutToken).toMatchObject({
      status: 401,
      body: { type: 'tag:todo-platform,2026:problems/missing-token' },
      headers: { 'www-authenticate': 'Bearer realm="todo"' },
    });
    expect(steps.withoutToken?.headers['x-request-id']).toBeTruthy();
  });

  it('in Chromium, the same page on another origin fails with a CORS error, and the account is never created', async () => {
    const email = `elsewhere-${crypto.randomUUID()}@example.com`;
    const { steps, error } = await openPage(otherPage.origin, email);
    expect(steps).toEqual({});
    expect(error).toBe('TypeError: Failed to fetch');
    // The preflight failed, so the POST itself was never sent.
    const users = await stack.auth.sql('select count(*)::int as n from auth.users where email = $1', [email]);
    expect(users).toEqual([{ n: 0 }]);
  });
});
