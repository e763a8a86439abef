/** createApp(deps): the auth API's middleware order, on one screen. No side effects. */
import { requireAccessToken } from '@todo/platform/auth';
import { requestScopedEntityManager } from '@todo/platform/db';
import {
  apiSecurityHeaders,
  cors,
  jsonBody,
  perClientLimit,
  problemDetails,
  rateLimitHeaders,
  requestContext,
  trustedProxies,
} from '@todo/platform/http';
import Koa from 'koa';
import type { AuthAppDeps, AuthContextState } from './context.ts';
import { authRoutes } from './routes/auth.routes.ts';
import { meRoutes } from './routes/me.routes.ts';
import { oauthRoutes } from './routes/oauth.routes.ts';
import { wellKnownRoutes } from './routes/well-known.routes.ts';

export function createApp(deps: AuthAppDeps): Koa<AuthContextState> {
  const app = new Koa<AuthContextState>(trustedProxies(deps.config.TRUST_PROXY_HOPS));
  // The auth service verifies its own tokens against its key set directly, no JWKS round trip.
  const bearer = requireAccessToken({
    keys: deps.keys.resolver(),
    issuer: deps.config.JWT_ISSUER,
    audience: deps.config.JWT_AUDIENCE,
    realm: 'auth',
  });
  const oauth = oauthRoutes(deps);
  const routers = [authRoutes(deps, bearer), meRoutes(deps, bearer), wellKnownRoutes(deps)];

  app.use(requestContext(deps.logger, deps.metrics));
  app.use(apiSecurityHeaders());
  app.use(rateLimitHeaders(deps.metrics.registry));
  // Before the error sink and any authentication: preflights need no token, problems stay readable cross-origin.
  app.use(cors(deps.config.CORS_ORIGINS));
  app.use(problemDetails());
  app.use(perClientLimit(deps.config.RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE));
  app.use(requestScopedEntityManager(deps.orm));
  // The OAuth endpoints read forms and answer RFC 6749 errors (their router does both), so they come before JSON.
  app.use(oauth.routes());
  app.use(oauth.allowedMethods());
  app.use(jsonBody(deps.config.BODY_LIMIT));
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.on('error', (err) => deps.logger.error({ err }, 'unhandled app error'));
  return app;
}
