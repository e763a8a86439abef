/**
 * First middleware of every app: gives the request an id (kept from `X-Request-Id` when it looks sane),
 * a child logger that carries it, one access-log line and one latency observation when it ends.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.ts';
import type { HttpMetrics } from './metrics.ts';

export interface RequestState {
  requestId: string;
  log: Logger;
}

/** A caller's request id is kept only when it is a short token of safe characters (a UUID, a trace id). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestContext(logger: Logger, metrics?: HttpMetrics): Middleware<RequestState> {
  return async function requestContextMiddleware(ctx, next) {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('x-request-id');
    const requestId = SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The matched route template keeps label cardinality bounded (never the raw path with ids in it).
      const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const routeLabel = typeof route === 'string' ? route : 'unmatched';
      metrics?.observe(ctx.method, routeLabel, ctx.status, seconds);
      ctx.state.log.info(
        { method: ctx.method, path: ctx.path, route: routeLabel, status: ctx.status, ms: Math.round(seconds * 1000) },
        'request',
      );
    }
  };
}
