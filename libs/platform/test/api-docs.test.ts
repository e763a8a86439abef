import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ApiDocsOptions, apiDocs } from '../src/http/api-docs.ts';
import { createMetrics } from '../src/http/metrics.ts';
import { createOpsApp } from '../src/http/ops.ts';
import { listen, type RunningServer } from '../src/http/server.ts';
import { createLogger } from '../src/logger.ts';

const specPath = fileURLToPath(new URL('../../../specs/api/todo.openapi.yaml', import.meta.url));
const eventsSpecPath = fileURLToPath(new URL('../../../specs/events/asyncapi.yaml', import.meta.url));

/** Every `src="…"` and `href="…"` value in the page. */
const referencedUrls = (html: string): string[] =>
  [...html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/gi)].map((m) => m[1] ?? '');

const startOpsApp = (options: ApiDocsOptions): Promise<RunningServer> =>
  listen(
    createOpsApp({
      logger: createLogger({ service: 'test', level: 'silent' }),
      metrics: createMetrics('test'),
      checks: {},
      isDraining: () => false,
      extend: apiDocs(options),
    }),
    0,
    '127.0.0.1',
  );

const status = async (url: string): Promise<number> => {
  const response = await fetch(url, { redirect: 'manual' });
  await response.body?.cancel();
  return response.status;
};

describe('apiDocs on the ops app', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startOpsApp({ specPath, title: 'Todo service <API>' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves the document as JSON, equal to the YAML it was read from', async () => {
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.json()).toEqual(parse(readFileSync(specPath, 'utf8')));
  });

  it('revalidates with the ETag instead of sending the document again', async () => {
    const first = await fetch(`${server.url}/openapi.json`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    // fetch adds `Cache-Control: no-cache` to a conditional request (which demands a full response) unless
    // the request already has a Cache-Control of its own.
    const again = await fetch(`${server.url}/openapi.json`, {
      headers: { 'If-None-Match': etag ?? '', 'Cache-Control': 'max-age=0' },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('serves an HTML page under a restrictive CSP that references only its own assets', async () => {
    const response = await fetch(`${server.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html\b/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);

    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//i);
    // The title is text, not markup.
    expect(html).toContain('<title>Todo service &#60;API&#62;</title>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);

    const urls = referencedUrls(html);
    expect(urls.length).toBeGreaterThanOrEqual(2);
    const page = new URL('/docs', server.url);
    for (const url of urls) {
      // Relative or root-relative only: no scheme and no protocol-relative `//host`.
      expect(url).not.toMatch(/^([a-z][a-z0-9+.-]*:|\/\/)/i);
      const resolved = new URL(url, page);
      expect(resolved.origin).toBe(page.origin);
      const asset = await fetch(resolved);
      expect(asset.status, resolved.pathname).toBe(200);
      expect(asset.headers.get('content-type'), resolved.pathname).toMatch(
        /^(text\/css|application\/javascript|text\/javascript)\b/,
      );
      expect((await asset.arrayBuffer()).byteLength, resolved.pathname).toBeGreaterThan(0);
    }
  });

  it('sends /docs/ to /docs, where the relative asset paths resolve', async () => {
    const response = await fetch(`${server.url}/docs/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('location') ?? '', `${server.url}/docs/`).pathname).toBe('/docs');
    await response.body?.cancel();
  });

  it('answers 404 for an asset it does not have', async () => {
    const response = await fetch(`${server.url}/docs/assets/package.json`);
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });

  it('without an events document, serves no events page and links to none', async () => {
    expect(await status(`${server.url}/asyncapi.json`)).toBe(404);
    expect(await status(`${server.url}/docs/events`)).toBe(404);
    expect(await (await fetch(`${server.url}/docs`)).text()).not.toContain('docs/events');
  });
});

describe('apiDocs with the events document (AsyncAPI)', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startOpsApp({ specPath, title: 'Todo API', eventsSpecPath });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves the AsyncAPI document as JSON, equal to the YAML it was read from', async () => {
    const response = await fetch(`${server.url}/asyncapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(response.headers.get('etag')).toMatch(/^".+"$/);
    expect(await response.json()).toEqual(parse(readFileSync(eventsSpecPath, 'utf8')));
  });

  it('when someone reads the API docs, a relative link takes them to the events page', async () => {
    const html = await (await fetch(`${server.url}/docs`)).text();
    expect(referencedUrls(html)).toContain('docs/events');
    // Behind a path prefix (kubectl proxy) the link stays under it.
    expect(new URL('docs/events', 'http://cluster/proxy/ops/docs').pathname).toBe('/proxy/ops/docs/events');
  });

  it('serves the events page under a CSP that adds only eval, and only there', async () => {
    const response = await fetch(`${server.url}/docs/events`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html\b/);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'self' 'unsafe-eval'(;|$)/);
    expect(csp).toMatch(/style-src 'self'(;|$)/);
    expect(csp).toMatch(/connect-src 'self'(;|$)/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-inline|https?:|\*/);

    const swagger = await fetch(`${server.url}/docs`);
    await swagger.body?.cancel();
    expect(swagger.headers.get('content-security-policy')).not.toMatch(/unsafe-eval/);
  });

  it('the events page loads only its own assets, each served from the installed packages', async () => {
    const html = await (await fetch(`${server.url}/docs/events`)).text();
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).toContain('<title>Todo platform events</title>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/\bstyle\s*=/i);

    const page = new URL('/docs/events', server.url);
    const urls = referencedUrls(html);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    const served = new Map<string, Buffer>();
    for (const url of urls) {
      expect(url).not.toMatch(/^([a-z][a-z0-9+.-]*:|\/\/)/i);
      const resolved = new URL(url, page);
      expect(resolved.origin).toBe(page.origin);
      expect(resolved.pathname).toMatch(/^\/docs\/events\/assets\//);
      const asset = await fetch(resolved);
      expect(asset.status, resolved.pathname).toBe(200);
      expect(asset.headers.get('content-type'), resolved.pathname).toMatch(
        /^(text\/css|application\/javascript|text\/javascript)\b/,
      );
      expect(asset.headers.get('x-content-type-options'), resolved.pathname).toBe('nosniff');
      served.set(resolved.pathname.split('/').pop() ?? '', Buffer.from(await asset.arrayBuffer()));
    }

    const installed = (file: string) =>
      readFileSync(createRequire(import.meta.url).resolve(`@asyncapi/react-component/${file}`));
    expect(served.get('asyncapi-standalone.js')?.equals(installed('browser/standalone/index.js'))).toBe(true);
    expect(served.get('asyncapi.css')?.equals(installed('styles/default.min.css'))).toBe(true);
    // The bootstrap finds the document relative to its own URL, so also behind a path prefix.
    const init = served.get('init.js')?.toString('utf8') ?? '';
    const documentUrl = init.match(/new URL\('([^']+)'/)?.[1] ?? '';
    expect(new URL(documentUrl, 'http://cluster/proxy/ops/docs/events/assets/init.js').pathname).toBe(
      '/proxy/ops/asyncapi.json',
    );
  });

  it('sends /docs/events/ to /docs/events, where the relative asset paths resolve', async () => {
    const response = await fetch(`${server.url}/docs/events/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('location') ?? '', `${server.url}/docs/events/`).pathname).toBe('/docs/events');
    await response.body?.cancel();
  });

  it('answers 404 for an events asset it does not have', async () => {
    expect(await status(`${server.url}/docs/events/assets/package.json`)).toBe(404);
  });

  it('when the events document is missing, the service fails at startup, naming the file', () => {
    const missing = fileURLToPath(new URL('../../../specs/events/no-such-file.yaml', import.meta.url));
    expect(() => apiDocs({ specPath, title: 'Todo API', eventsSpecPath: missing })).toThrow(
      /Cannot read the AsyncAPI document .*no-such-file\.yaml/,
    );
  });

  it('when the events document is not AsyncAPI (an OpenAPI one by mistake), startup fails too', () => {
    expect(() => apiDocs({ specPath, title: 'Todo API', eventsSpecPath: specPath })).toThrow(
      /is not an AsyncAPI document/,
    );
  });
});
