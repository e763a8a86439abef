/**
 * A service's OpenAPI document, as JSON and as a page for people (Swagger UI), for the ops app:
 * `createOpsApp({ extend: apiDocs({ specPath, title }) })`. The page loads nothing but what this app
 * serves from the installed `swagger-ui-dist`, so it works without a network and under a CSP that allows
 * only 'self'.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { parse } from 'yaml';

export interface ApiDocsOptions {
  /** The OpenAPI document (YAML or JSON), read once when `apiDocs` is called. */
  specPath: string;
  /** The page's title. */
  title: string;
}

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

// `data:` images: swagger-ui.css draws its icons as inline SVG. Scripts and styles come only from this app;
// Swagger UI sets element styles through the DOM (CSSOM), which style-src does not restrict.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// A separate file rather than an inline <script>, so that script-src needs no 'unsafe-inline' or hash.
// The document's URL is taken relative to this script's own, so the page also works behind a path prefix
// (`kubectl proxy`). validatorUrl: null stops Swagger UI from sending the document to validator.swagger.io;
// no submit methods because the ops port is not the API port: "Try it out" would call the wrong server.
const BOOTSTRAP = `'use strict';
(function () {
  var specUrl = new URL('../../openapi.json', document.currentScript.src).href;
  window.addEventListener('DOMContentLoaded', function () {
    window.ui = SwaggerUIBundle({
      url: specUrl,
      dom_id: '#swagger-ui',
      deepLinking: true,
      validatorUrl: null,
      supportedSubmitMethods: [],
      presets: [SwaggerUIBundle.presets.apis],
    });
  });
})();
`;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.codePointAt(0)};`);

/** Relative to `/docs`, so that the page keeps working when the ops app is reached under a path prefix. */
const assetPath = (file: string): string => `docs/assets/${file}`;

const page = (title: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${assetPath('swagger-ui.css')}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${assetPath('swagger-ui-bundle.js')}"></script>
<script src="${assetPath('init.js')}"></script>
</body>
</html>
`;

function asset(type: string, body: Buffer | string): Asset {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { type, body: bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url')}"` };
}

/** no-cache plus a strong ETag: a reload revalidates, and only a changed file is sent again (1.7 MB bundle). */
function send(ctx: Context, { type, body, etag }: Asset): void {
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.type = type;
  ctx.etag = etag;
  // Koa's `fresh` only compares validators once the status is a success; it is still 404 here.
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = body;
}

function readDocument(specPath: string): string {
  let document: unknown;
  try {
    document = parse(readFileSync(specPath, 'utf8'));
  } catch (cause) {
    throw new Error(`Cannot read the OpenAPI document ${specPath}: ${(cause as Error).message}`, { cause });
  }
  if (typeof document !== 'object' || document === null || !('openapi' in document)) {
    throw new Error(`${specPath} is not an OpenAPI document (no "openapi" version).`);
  }
  return JSON.stringify(document);
}

/**
 * Routes for the ops app: `GET /openapi.json`, `GET /docs` and `GET /docs/assets/<file>`. Everything is
 * read when this is called, so a missing document or package fails at startup, not on the first request.
 */
export function apiDocs({ specPath, title }: ApiDocsOptions): (router: Router) => void {
  const require = createRequire(import.meta.url);
  const swaggerUi = (file: string): Buffer => readFileSync(require.resolve(`swagger-ui-dist/${file}`));

  const documentJson = asset('application/json', readDocument(specPath));
  const html = asset('html', page(title));
  const assets = new Map<string, Asset>([
    ['swagger-ui.css', asset('css', swaggerUi('swagger-ui.css'))],
    ['swagger-ui-bundle.js', asset('js', swaggerUi('swagger-ui-bundle.js'))],
    ['init.js', asset('js', BOOTSTRAP)],
  ]);

  return (router) => {
    router.get('/openapi.json', (ctx) => send(ctx, documentJson));
    router.get('/docs', (ctx) => {
      // The router also matches `/docs/`, against which the page's relative asset paths would not resolve.
      if (ctx.path.endsWith('/')) {
        ctx.redirect('../docs');
        return;
      }
      ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      ctx.set('Referrer-Policy', 'no-referrer');
      send(ctx, html);
    });
    router.get('/docs/assets/:file', (ctx) => {
      const found = assets.get(ctx.params.file ?? '');
      if (found) send(ctx, found);
    });
  };
}
