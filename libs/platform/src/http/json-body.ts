/**
 * JSON request bodies. A body that is not JSON is refused with 415 instead of being read as `{}`;
 * malformed JSON is a 400 and an oversized body a 413 (both raised by the parser and mapped by the
 * problem middleware).
 */
import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { UnsupportedMediaTypeError } from '../errors.ts';

const JSON_TYPES = ['application/json', 'application/merge-patch+json'];

export function jsonBody(limit: string): Middleware {
  const parse = bodyParser({
    enableTypes: ['json'],
    // The parser deep-merges this over its defaults index by index, so the list must restate application/json.
    extendTypes: { json: JSON_TYPES },
    jsonLimit: limit,
    jsonStrict: true,
    parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'],
  });
  return async function jsonBodyMiddleware(ctx, next) {
    if (ctx.method === 'POST' || ctx.method === 'PUT' || ctx.method === 'PATCH' || ctx.method === 'DELETE') {
      const hasBody = ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';
      if (hasBody && !ctx.request.is(JSON_TYPES)) {
        throw new UnsupportedMediaTypeError(`Send the body as ${JSON_TYPES.join(' or ')}.`, JSON_TYPES, ctx.method);
      }
      if (!hasBody) {
        ctx.request.body = undefined;
        return next();
      }
    }
    return parse(ctx, next);
  };
}
