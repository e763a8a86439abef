import Router from '@koa/router';
import type { AuthAppDeps, AuthContextState } from '../context.ts';

/**
 * RFC 8414 authorization server metadata: exactly the endpoints and grants that exist, nothing else. There is
 * no authorization endpoint, so no response type is supported (the member is required, hence empty), and no
 * ID token is ever issued, so none of OpenID Connect's ID-token members appear.
 */
function serverMetadata(config: AuthAppDeps['config']) {
  const base = config.JWT_ISSUER.replace(/\/$/, '');
  return {
    issuer: config.JWT_ISSUER,
    token_endpoint: `${base}/oauth/token`,
    revocation_endpoint: `${base}/oauth/revoke`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: ['password', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    response_types_supported: [],
  };
}

/**
 * Discovery for verifiers, gateways and OAuth clients: the public keys and where everything is. The metadata
 * is also served at OpenID Connect's well-known path, where gateways (Istio, Envoy, Kong) and client
 * libraries look for `jwks_uri` first; it is the same document, and claims no OpenID Provider feature.
 */
export function wellKnownRoutes(deps: AuthAppDeps): Router<AuthContextState> {
  const router = new Router<AuthContextState>({ prefix: '/.well-known' });
  const { config } = deps;
  const cacheable = `public, max-age=${config.JWKS_MAX_AGE_SECONDS}`;
  const metadata = serverMetadata(config);

  router.get('/jwks.json', (ctx) => {
    ctx.set('Cache-Control', cacheable);
    ctx.body = { keys: deps.keys.published() };
  });

  router.get(['/oauth-authorization-server', '/openid-configuration'], (ctx) => {
    ctx.set('Cache-Control', cacheable);
    ctx.body = metadata;
  });

  return router;
}
