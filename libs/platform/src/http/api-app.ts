/**
 * The front every API app shares, in the order that matters: a request id and access log around everything;
 * the security and RateLimit headers on every answer, problems included; the error sink; CORS inside it (so a
 * problem keeps the grant and a refused preflight is a problem like any other) and before any authentication
 * (a preflight never needs a token); the per-client floor. Each service adds its own middlewares and routes.
 */
import Koa from 'koa';
import type { Logger } from '../logger.ts';
import { perClientLimit } from './client-limit.ts';
import { cors } from './cors.ts';
import type { HttpMetrics } from './metrics.ts';
import { problemDetails } from './problem.ts';
import { rateLimitHeaders } from './rate-limits.ts';
import { requestContext } from './request-context.ts';
import { apiSecurityHeaders } from './security-headers.ts';
import { trustedProxies } from './trusted-proxies.ts';

export interface ApiAppDeps {
  config: {
    TRUST_PROXY_HOPS: number;
    CORS_ORIGINS: readonly string[];
    RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE: number;
  };
  logger: Logger;
  metrics: HttpMetrics;
}

export function createApiApp<S>({ config, logger, metrics }: ApiAppDeps): Koa<S> {
  const app = new Koa<S>(trustedProxies(config.TRUST_PROXY_HOPS));
  app.use(requestContext(logger, metrics));
  app.use(apiSecurityHeaders());
  app.use(rateLimitHeaders(metrics.registry));
  app.use(problemDetails());
  app.use(cors(config.CORS_ORIGINS));
  app.use(perClientLimit(config.RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE));
  app.on('error', (err) => logger.error({ err }, 'unhandled app error'));
  return app;
}
