/**
 * A floor under every API route, before authentication: requests per client address (an IPv6 /64 counts
 * as one) and minute, in each replica's memory. It is sized so that an office behind one NAT never meets
 * it; it stops one address from flooding a replica with requests that cost a token check or a 404 each.
 * The per-user and per-account limits do the fine-grained work. Every answer reports it in the RateLimit
 * headers as the policy `client`.
 */
import type { Middleware } from 'koa';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { clientKey } from './client-address.ts';
import { type RateLimitState, takePoint } from './rate-limits.ts';

export function perClientLimit(requestsPerMinute: number): Middleware<RateLimitState> {
  const limit = {
    limiter: new RateLimiterMemory({ points: requestsPerMinute, duration: 60 }),
    policy: 'client',
    quota: requestsPerMinute,
    windowSeconds: 60,
  };
  return function perClientLimitMiddleware(ctx, next) {
    return takePoint(limit, clientKey(ctx.ip), ctx.state.limits).then(() => next());
  };
}
