/**
 * Form request bodies (`application/x-www-form-urlencoded`), for the endpoints whose protocol prescribes them
 * (OAuth 2.0). Parsed as browsers and `URLSearchParams` parse forms: flat names, `+` as a space, no nesting; a
 * name sent more than once keeps all its values, in order, so the route can refuse it. Any other content type
 * is a 415, an oversized body a 413 (raised by the parser); no body leaves `ctx.request.body` undefined.
 */
import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { UnsupportedMediaTypeError } from '../errors.ts';

const FORM_TYPE = 'application/x-www-form-urlencoded';

function fields(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const seen = Object.hasOwn(out, name) ? out[name] : undefined;
    out[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return out;
}

export function formBody(limit: string): Middleware {
  // Read as text and parsed here: the parser's own form mode (qs) would nest `a[b]` and `a.b` names.
  const read = bodyParser({
    enableTypes: ['text'],
    extendTypes: { text: [FORM_TYPE] },
    textLimit: limit,
    parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'],
  });
  return async function formBodyMiddleware(ctx, next) {
    const hasBody = ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';
    if (!hasBody) {
      ctx.request.body = undefined;
      return next();
    }
    if (!ctx.request.is(FORM_TYPE))
      throw new UnsupportedMediaTypeError(`Send the body as ${FORM_TYPE}.`, [FORM_TYPE], ctx.method);
    return read(ctx, () => {
      ctx.request.body = fields(typeof ctx.request.body === 'string' ? ctx.request.body : '');
      return next();
    });
  };
}
