import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { apiDocs } from '../src/http/api-docs.ts';
import { createMetrics } from '../src/http/metrics.ts';
import { createOpsApp } from '../src/http/ops.ts';
import { listen, type RunningServer } from '../src/http/server.ts';
import { createLogger } from '../src/logger.ts';

const specPath = fileURLToPath(new URL('../../../specs/api/todo.openapi.yaml', import.meta.url));

/** Every `src="…"` and `href="…"` value in the page. */
const referencedUrls = (html: string): string[] =>
  [...html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/gi)].map((m) => m[1] ?? '');

describe('apiDocs on the ops app', () => {
  let server: RunningServer;

  beforeAll(async () => {
    const app = createOpsApp({
      logger: createLogger({ service: 'test', level: 'silent' }),
      metrics: createMetrics('test'),
      checks: {},
      isDraining: () => false,
      extend: apiDocs({ specPath, title: 'Todo service <API>' }),
    });
    server = await listen(app, 0, '127.0.0.1');
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
});
