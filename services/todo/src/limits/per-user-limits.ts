/**
 * Per-user limits on the todo API, counted after authentication: reads in each replica's memory (a read
 * costs one query; a shared counter would double it), writes in PostgreSQL (shared by every replica, like
 * the writes themselves). A request over a limit is a 429 with Retry-After; every answer carries the IETF
 * RateLimit headers.
 */
import type { AuthState } from '@todo/platform/auth';
import type { QueryClient } from '@todo/platform/db';
import { type RateLimitState, takePoint } from '@todo/platform/http';
import type { Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterPostgres } from 'rate-limiter-flexible';

export interface PerUserLimitSettings {
  readsPerMinute: number;
  writesPerMinute: number;
}

const READS = new Set(['GET', 'HEAD']);

export function perUserLimits(
  store: QueryClient,
  settings: PerUserLimitSettings,
): Middleware<AuthState & RateLimitState> {
  const reads = {
    policy: 'reads',
    quota: settings.readsPerMinute,
    windowSeconds: 60,
    limiter: new RateLimiterMemory({ points: settings.readsPerMinute, duration: 60 }),
  };
  const writes = {
    policy: 'writes',
    quota: settings.writesPerMinute,
    windowSeconds: 60,
    limiter: new RateLimiterPostgres({
      storeClient: store,
      storeType: 'pool',
      schemaName: 'todo',
      tableName: 'rate_limits',
      tableCreated: true,
      keyPrefix: 'writes',
      points: settings.writesPerMinute,
      duration: 60,
    }),
  };
  return async function perUserLimitsMiddleware(ctx, next) {
    await takePoint(READS.has(ctx.method) ? reads : writes, ctx.state.principal.userId, ctx.state.limits);
    return next();
  };
}
