/** createApp(deps): the auth API's middleware order, on one screen. No side effects. */
import { requireAccessToken } from '@todo/platform/auth';
import { requestScopedEntityManager } from '@todo/platform/db';
import { createApiApp, jsonBody } from '@todo/platform/http';
import type Koa from 'koa';
import type { AuthAppDeps, AuthContextState } from './context.ts';
import { authRoutes } from './routes/auth.routes.ts';
import { meRoutes } from './routes/me.routes.ts';
import { oauthRoutes } from './routes/oauth.routes.ts';
import { recoveryRoutes } from './routes/recovery.routes.ts';
import { wellKnownRoutes } from './routes/well-known.routes.ts';

export function createApp(deps: AuthAppDeps): Koa<AuthContextState> {
  const app = createApiApp<AuthContextState>(deps);
  // The auth service verifies its own tokens against its key set directly, no JWKS round trip.
  const bearer = requireAccessToken({
    keys: deps.keys.resolver(),
    issuer: deps.config.JWT_ISSUER,
    audience: deps.config.JWT_AUDIENCE,
    realm: 'auth',
  });
  const oauth = oauthRoutes(deps);
  const routers = [
    authRoutes(deps, bearer),
    recoveryRoutes(deps, bearer),
    meRoutes(deps, bearer),
    wellKnownRoutes(deps),
  ];

  app.use(requestScopedEntityManager(deps.orm));
  // The OAuth endpoints read forms and answer RFC 6749 errors (their router does both), so they come before JSON.
  app.use(oauth.routes());
  app.use(oauth.allowedMethods());
  app.use(jsonBody(deps.config.BODY_LIMIT));
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
