/**
 * Cross-origin access for browser apps (CORS, over @koa/cors): the configured origins exactly, nothing else,
 * and no credentials (the APIs take bearer tokens, never cookies). Mounted just inside the error sink, which
 * keeps the grant on a problem, and before any authentication (`createApiApp`), so that a preflight never needs
 * a token and every answer to an allowed origin, a 401, 404, 429 or 500 problem included, stays readable by
 * the app that asked.
 */
import koaCors from '@koa/cors';
import type { Context, Middleware } from 'koa';
import { ForbiddenError } from '../errors.ts';

/** What the two APIs use between them; HEAD comes with every GET route. */
const ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const ALLOW_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'X-Request-Id'];
const EXPOSE_HEADERS = [
  'ETag',
  'Location',
  'RateLimit',
  'RateLimit-Policy',
  'Retry-After',
  'Idempotent-Replayed',
  'X-Request-Id',
  'WWW-Authenticate',
];
/** Browsers cap it anyway (Chromium at 2 h); 10 minutes keeps a narrowed list from lingering. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

const isPreflight = (ctx: Context) => ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method') !== '';

export function cors(origins: readonly string[]): Middleware {
  const allowed = new Set(origins);
  const grant = koaCors({
    // An empty answer makes @koa/cors set no CORS header at all (it still adds Vary: Origin).
    origin: (ctx) => (allowed.has(ctx.get('Origin')) ? ctx.get('Origin') : ''),
    allowMethods: ALLOW_METHODS,
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    credentials: false,
    // The error sink, outside, keeps the grant on a problem.
    keepHeadersOnError: false,
  });

  return async function corsMiddleware(ctx, next) {
    // A preflight from anywhere else is refused here: left to the app, it would meet authentication (a 401).
    if (isPreflight(ctx) && !allowed.has(ctx.get('Origin'))) {
      ctx.vary('Origin');
      throw new ForbiddenError('Cross-origin requests from this origin are not allowed.', 'origin_not_allowed');
    }
    await grant(ctx, next);
  };
}
