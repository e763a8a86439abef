import Router from '@koa/router';
import { ACCESS_TOKEN_ALGORITHM } from '@todo/platform/auth';
import type { AuthAppDeps, AuthContextState } from '../context.ts';

/** Discovery for verifiers and gateways: the public keys and where everything is. */
export function wellKnownRoutes(deps: AuthAppDeps): Router<AuthContextState> {
  const router = new Router<AuthContextState>({ prefix: '/.well-known' });
  const { config } = deps;

  router.get('/jwks.json', (ctx) => {
    ctx.set('Cache-Control', `public, max-age=${config.JWKS_MAX_AGE_SECONDS}`);
    ctx.body = { keys: deps.keys.published() };
  });

  router.get('/openid-configuration', (ctx) => {
    const base = config.JWT_ISSUER.replace(/\/$/, '');
    ctx.set('Cache-Control', `public, max-age=${config.JWKS_MAX_AGE_SECONDS}`);
    ctx.body = {
      issuer: config.JWT_ISSUER,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint: `${base}/auth/login`,
      grant_types_supported: ['password', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['none'],
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [ACCESS_TOKEN_ALGORITHM],
      token_endpoint_auth_signing_alg_values_supported: [ACCESS_TOKEN_ALGORITHM],
    };
  });

  return router;
}
