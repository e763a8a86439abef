/**
 * The limits a request was counted against, told to the client in the IETF RateLimit headers
 * (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` names each quota and its window, `RateLimit`
 * says what is left of it and when it resets. The use cases record into the request's report; this
 * middleware, outside the error sink, writes the headers on every answer, a 429 included. Each refusal is
 * also counted for the operator, by policy (`rate_limit_rejections_total`).
 */
import type { Middleware } from 'koa';
import { Counter, type Registry } from 'prom-client';
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
  readonly #rejections: Counter<'policy'>;

  constructor(rejections: Counter<'policy'>) {
    this.#rejections = rejections;
  }

  /**
   * The limit `state` describes refuses the request: recorded like any other, counted, and answered with the
   * 429 to throw (Retry-After: when that limit resets).
   */
  refuse(state: LimitState): TooManyRequestsError {
    this.record(state);
    this.#rejections.inc({ policy: state.policy });
    return new TooManyRequestsError(state.resetSeconds);
  }

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

/** Where a caller stands in a limit after a consume, as the RateLimit headers tell it. */
const limitState = (
  { policy, quota, windowSeconds }: Pick<LimitState, 'policy' | 'quota' | 'windowSeconds'>,
  res: RateLimiterRes,
): LimitState => ({
  policy,
  quota,
  windowSeconds,
  remaining: res.remainingPoints,
  resetSeconds: res.msBeforeNext / 1000,
});

/**
 * Takes one point for `key` from a limiter, records where the caller stands in the report, and refuses with
 * 429 (Retry-After) when the limit is used up: the `TooManyRequestsError` thrown, recorded and counted as that
 * limit's refusal. Only a limiter's "no points left" is a refusal: a store that fails (the database is down)
 * throws its own error. Answers the limiter's result for the point taken.
 */
export async function takePoint(
  limit: { limiter: RateLimiterAbstract; policy: string; quota: number; windowSeconds: number },
  key: string,
  report: RateLimitReport,
): Promise<RateLimiterRes> {
  let res: RateLimiterRes;
  let refused = false;
  try {
    res = await limit.limiter.consume(key);
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    res = err;
    refused = true;
  }
  const state = limitState(limit, res);
  if (refused) throw report.refuse(state);
  report.record(state);
  return res;
}

/** Policy names are our own tokens; quoted as structured-field strings (RFC 9651). */
const item = (name: string, params: Record<string, number>) =>
  `"${name}"${Object.entries(params)
    .map(([key, value]) => `;${key}=${value}`)
    .join('')}`;

/** `registry` is the service's: the refusals of every limit the app applies are counted there, by policy. */
export function rateLimitHeaders(registry: Registry): Middleware<RateLimitState> {
  const rejections = new Counter({
    name: 'rate_limit_rejections_total',
    help: 'Requests refused with 429 by a rate limit, by policy (client, reads, writes, login-pair, login-account, …).',
    labelNames: ['policy'] as const,
    registers: [registry],
  });
  return async function rateLimitHeadersMiddleware(ctx, next) {
    const report = new RateLimitReport(rejections);
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
