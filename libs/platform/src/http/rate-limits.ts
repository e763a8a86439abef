/**
 * The limits a request was counted against, told to the client in the IETF RateLimit headers
 * (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` names each quota and its window, `RateLimit`
 * says what is left of it and when it resets. The use cases record into the request's report; this
 * middleware, outside the error sink, writes the headers on every answer, a 429 included.
 */
import type { Middleware } from 'koa';
import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '../errors.ts';

export interface LimitState {
  /** A short token naming the limit, e.g. `login-ip`. */
  policy: string;
  quota: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
}

export class RateLimitReport {
  readonly #states = new Map<string, LimitState>();

  record(state: LimitState): void {
    this.#states.set(state.policy, {
      ...state,
      remaining: Math.max(0, Math.floor(state.remaining)),
      resetSeconds: Math.max(0, Math.ceil(state.resetSeconds)),
    });
  }

  get states(): LimitState[] {
    return [...this.#states.values()];
  }
}

export interface RateLimitState {
  limits: RateLimitReport;
}

/**
 * Takes one point for `key` from a limiter, records where the caller stands in the report, and refuses with
 * 429 (Retry-After) when the limit is used up. Only a limiter's "no points left" is a refusal: a store that
 * fails (the database is down) throws its own error.
 */
export async function takePoint(
  limit: { limiter: RateLimiterAbstract; policy: string; quota: number; windowSeconds: number },
  key: string,
  report: RateLimitReport,
): Promise<void> {
  let res: RateLimiterRes;
  let refused = false;
  try {
    res = await limit.limiter.consume(key);
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    res = err;
    refused = true;
  }
  report.record({
    policy: limit.policy,
    quota: limit.quota,
    windowSeconds: limit.windowSeconds,
    remaining: res.remainingPoints,
    resetSeconds: res.msBeforeNext / 1000,
  });
  if (refused) throw new TooManyRequestsError(res.msBeforeNext / 1000);
}

/** Policy names are our own tokens; quoted as structured-field strings (RFC 9651). */
const item = (name: string, params: Record<string, number>) =>
  `"${name}"${Object.entries(params)
    .map(([key, value]) => `;${key}=${value}`)
    .join('')}`;

export function rateLimitHeaders(): Middleware<RateLimitState> {
  return async function rateLimitHeadersMiddleware(ctx, next) {
    const report = new RateLimitReport();
    ctx.state.limits = report;
    try {
      await next();
    } finally {
      const states = report.states;
      if (states.length > 0 && !ctx.headerSent) {
        ctx.set('RateLimit-Policy', states.map((s) => item(s.policy, { q: s.quota, w: s.windowSeconds })).join(', '));
        ctx.set('RateLimit', states.map((s) => item(s.policy, { r: s.remaining, t: s.resetSeconds })).join(', '));
      }
    }
  };
}
