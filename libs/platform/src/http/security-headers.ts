/**
 * Headers every API response carries, errors included (this runs outside the error sink): nothing is
 * cached unless a route says so (user data must not land in a shared cache), the content type is not
 * second-guessed, and a response rendered as a page can load nothing and be framed by no one.
 */
import type { Middleware } from 'koa';

export function apiSecurityHeaders(): Middleware {
  return async function apiSecurityHeadersMiddleware(ctx, next) {
    try {
      await next();
    } finally {
      if (!ctx.headerSent) {
        if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
        ctx.set('X-Content-Type-Options', 'nosniff');
        ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
      }
    }
  };
}
