/**
 * A service's API documents, as JSON and as pages for people, for the ops app:
 * `createOpsApp({ extend: apiDocs({ specPath, title, eventsSpecPath }) })`. The OpenAPI document is rendered
 * with Swagger UI at `/docs`; the AsyncAPI document of the events, when given, with the AsyncAPI React
 * component at `/docs/events`. The pages load nothing but what this app serves from the installed packages,
 * so they work without a network and under a CSP that allows only 'self'.
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
  /**
   * The AsyncAPI document of the events (`specs/events/asyncapi.yaml`), read once when `apiDocs` is called.
   * When given, the app also serves it at `/asyncapi.json` and renders it at `/docs/events`.
   */
  eventsSpecPath?: string;
}

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

/** An HTML page and the files it loads, served at `path` and `path/assets/<file>`. */
interface Page {
  path: string;
  html: Asset;
  contentSecurityPolicy: string;
  assets: Map<string, Asset>;
}

// `data:` images: swagger-ui.css draws its icons as inline SVG. Scripts and styles come only from this app;
// Swagger UI and React set element styles through the DOM (CSSOM), which style-src does not restrict.
const contentSecurityPolicy = ({ allowEval }: { allowEval: boolean }): string =>
  [
    "default-src 'none'",
    `script-src 'self'${allowEval ? " 'unsafe-eval'" : ''}`,
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
const SWAGGER_BOOTSTRAP = `'use strict';
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

// The AsyncAPI component scopes its stylesheet to its own root and inherits the page's font; and its
// typography wraps inline code in literal backticks, which read as unrendered Markdown.
const ASYNCAPI_PAGE_CSS = `body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.aui-root .prose code::before, .aui-root .prose code::after { content: none; }
`;

// The same for the AsyncAPI page, whose script lives one level deeper (/docs/events/assets/init.js).
const ASYNCAPI_BOOTSTRAP = `'use strict';
(function () {
  var specUrl = new URL('../../../asyncapi.json', document.currentScript.src).href;
  window.addEventListener('DOMContentLoaded', function () {
    AsyncApiStandalone.render(
      {
        schema: { url: specUrl, requestOptions: { credentials: 'same-origin' } },
        config: { show: { sidebar: true }, sidebar: { useChannelAddressAsIdentifier: true } },
      },
      document.getElementById('asyncapi'),
    );
  });
})();
`;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.codePointAt(0)};`);

const lastSegment = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * Asset URLs are relative to the page (`/docs` → `docs/assets/…`, `/docs/events` → `events/assets/…`), so
 * that the pages keep working when the ops app is reached under a path prefix.
 */
const relativeAssetPath = (pagePath: string, file: string): string => `${lastSegment(pagePath)}/assets/${file}`;

interface PageContent {
  title: string;
  styles: string[];
  scripts: string[];
  body: string;
}

function htmlPage(pagePath: string, { title, styles, scripts, body }: PageContent): Asset {
  const link = (file: string) => `<link rel="stylesheet" href="${relativeAssetPath(pagePath, file)}">\n`;
  const script = (file: string) => `<script src="${relativeAssetPath(pagePath, file)}"></script>\n`;
  return asset(
    'html',
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${styles.map(link).join('')}</head>
<body>
${body}
${scripts.map(script).join('')}</body>
</html>
`,
  );
}

function asset(type: string, body: Buffer | string): Asset {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { type, body: bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url')}"` };
}

/** no-cache plus a strong ETag: a reload revalidates, and only a changed file is sent again (multi-MB bundles). */
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

/** Reads a YAML or JSON document and checks that it declares `versionKey` (`openapi`, `asyncapi`). */
function readDocument(specPath: string, kind: string, versionKey: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = parse(readFileSync(specPath, 'utf8'));
  } catch (cause) {
    throw new Error(`Cannot read the ${kind} document ${specPath}: ${(cause as Error).message}`, { cause });
  }
  if (typeof document !== 'object' || document === null || !(versionKey in document)) {
    throw new Error(`${specPath} is not an ${kind} document (no "${versionKey}" version).`);
  }
  return document as Record<string, unknown>;
}

function mountPage(router: Router, { path, html, contentSecurityPolicy, assets }: Page): void {
  router.get(path, (ctx) => {
    // The router also matches `<path>/`, against which the page's relative asset paths would not resolve.
    if (ctx.path.endsWith('/')) {
      ctx.redirect(`../${lastSegment(path)}`);
      return;
    }
    ctx.set('Content-Security-Policy', contentSecurityPolicy);
    ctx.set('Referrer-Policy', 'no-referrer');
    send(ctx, html);
  });
  router.get(`${path}/assets/:file`, (ctx) => {
    const found = assets.get(ctx.params.file ?? '');
    if (found) send(ctx, found);
  });
}

/** A file of an installed package, resolved the way Node resolves an import from this module. */
function packageFile(specifier: string): Buffer {
  return readFileSync(createRequire(import.meta.url).resolve(specifier));
}

function swaggerPage(title: string, linkToEvents: boolean): Page {
  const path = '/docs';
  // Inside Swagger UI's own `.swagger-ui .wrapper`, so that its stylesheet lays the link out with the page.
  const eventsLink = linkToEvents
    ? '<div class="swagger-ui"><nav class="wrapper"><p><a href="docs/events">Events on NATS (AsyncAPI)</a></p></nav></div>\n'
    : '';
  return {
    path,
    html: htmlPage(path, {
      title,
      styles: ['swagger-ui.css'],
      scripts: ['swagger-ui-bundle.js', 'init.js'],
      body: `${eventsLink}<div id="swagger-ui"></div>`,
    }),
    contentSecurityPolicy: contentSecurityPolicy({ allowEval: false }),
    assets: new Map([
      ['swagger-ui.css', asset('css', packageFile('swagger-ui-dist/swagger-ui.css'))],
      ['swagger-ui-bundle.js', asset('js', packageFile('swagger-ui-dist/swagger-ui-bundle.js'))],
      ['init.js', asset('js', SWAGGER_BOOTSTRAP)],
    ]),
  };
}

/**
 * The AsyncAPI React component's standalone bundle. Its package is a devDependency: the production image
 * carries only these two files of it (see services/Dockerfile), not the ~120 MB it depends on.
 */
function eventsPage(title: string): Page {
  const path = '/docs/events';
  return {
    path,
    html: htmlPage(path, {
      title,
      styles: ['asyncapi.css', 'page.css'],
      scripts: ['asyncapi-standalone.js', 'init.js'],
      body: '<div id="asyncapi"></div>',
    }),
    // The bundle carries @asyncapi/parser, whose Ajv compiles JSON Schemas into functions with `new Function`,
    // already while the bundle loads: without 'unsafe-eval' it throws and the page stays blank (seen in
    // Chromium). Allowed on this page only, which runs no script but the bundle and init.js from this app
    // and renders only the document this app serves; the Swagger page keeps the stricter policy.
    contentSecurityPolicy: contentSecurityPolicy({ allowEval: true }),
    assets: new Map([
      ['asyncapi.css', asset('css', packageFile('@asyncapi/react-component/styles/default.min.css'))],
      ['asyncapi-standalone.js', asset('js', packageFile('@asyncapi/react-component/browser/standalone/index.js'))],
      ['page.css', asset('css', ASYNCAPI_PAGE_CSS)],
      ['init.js', asset('js', ASYNCAPI_BOOTSTRAP)],
    ]),
  };
}

const titleOf = (document: Record<string, unknown>, fallback: string): string => {
  const info = document.info as { title?: unknown } | undefined;
  return typeof info?.title === 'string' ? info.title : fallback;
};

/**
 * Routes for the ops app: `GET /openapi.json`, `GET /docs` and its assets; with `eventsSpecPath` also
 * `GET /asyncapi.json`, `GET /docs/events` and its assets. Everything is read when this is called, so a
 * missing document or package fails at startup, not on the first request.
 */
export function apiDocs({ specPath, title, eventsSpecPath }: ApiDocsOptions): (router: Router) => void {
  const openApi = readDocument(specPath, 'OpenAPI', 'openapi');
  const documents = new Map([['/openapi.json', asset('application/json', JSON.stringify(openApi))]]);
  const pages = [swaggerPage(title, eventsSpecPath !== undefined)];
  if (eventsSpecPath !== undefined) {
    const asyncApi = readDocument(eventsSpecPath, 'AsyncAPI', 'asyncapi');
    documents.set('/asyncapi.json', asset('application/json', JSON.stringify(asyncApi)));
    pages.push(eventsPage(titleOf(asyncApi, `${title}: events`)));
  }

  return (router) => {
    for (const [path, document] of documents) router.get(path, (ctx) => send(ctx, document));
    for (const page of pages) mountPage(router, page);
  };
}
