/**
 * The OAuth 2.0 endpoints, beside the JSON ones, for standard clients: the token endpoint (RFC 6749 §4.3, the
 * password grant for first-party clients, and §6, the refresh grant) and token revocation (RFC 7009), for
 * public clients that name themselves with `client_id` and hold no secret. Form bodies in, RFC 6749 answers
 * out (`oauth-errors.ts`); the use cases, and with them the limits, rotation and reuse detection, are the
 * JSON routes' own.
 */
import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { BadRequestError, UnauthorizedError } from '@todo/platform/errors';
import { codePointLength, formBody, parseBody, type RateLimitReport } from '@todo/platform/http';
import { z } from 'zod';
import type { AuthAppDeps, AuthContextState } from '../context.ts';
import { type LoggedIn, logIn } from '../domain/log-in.ts';
import { revokeToken } from '../domain/log-out.ts';
import { refresh } from '../domain/refresh.ts';
import { FIRST_PARTY_CLIENT_ID, type IssuedTokens } from '../domain/sessions.ts';
import { currentPassword, email, refreshToken } from './fields.ts';
import { oauthErrors } from './oauth-errors.ts';

/** The clients this server knows, all public (no secret). Every session is started for this one. */
const KNOWN_CLIENTS: ReadonlySet<string> = new Set([FIRST_PARTY_CLIENT_ID]);

/** A parameter that must be sent (one sent empty counts as omitted: `oauthParams`), shaped as `field` says. */
const required = <T extends z.ZodType<unknown, string>>(field: T) => z.string({ error: 'Required.' }).pipe(field);
/** Lengths in code points, as the API documents them (and as the JSON routes count). */
const upTo = (max: number) => required(z.string().superRefine(codePointLength({ min: 0, max })));

const tokenRequest = z.object({ grant_type: upTo(64), scope: z.string().optional() });
const passwordGrant = z.object({ username: email, password: required(currentPassword) });
const refreshGrant = z.object({ refresh_token: required(refreshToken) });
const revocationRequest = z.object({ token: upTo(8192) });

/** RFC 6749 §5.1: a successful token response, in the names standard OAuth clients read. */
export const oauthTokenBody = (tokens: IssuedTokens) => ({
  access_token: tokens.accessToken.token,
  token_type: 'Bearer',
  expires_in: tokens.accessToken.expiresIn,
  refresh_token: tokens.refreshToken,
  refresh_expires_in: tokens.refreshExpiresIn,
});

/**
 * RFC 6749 §3.1 and §3.2: a parameter may be sent once, and one sent without a value counts as omitted.
 * Unknown parameters are ignored, as §3.1 requires.
 */
function oauthParams(body: unknown): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(body ?? {})) {
    if (Array.isArray(value)) throw new BadRequestError('A parameter was sent more than once.', 'invalid_request');
    if (typeof value === 'string' && value !== '') params[name] = value;
  }
  return params;
}

/**
 * Public clients authenticate with nothing but their `client_id`. RFC 6749 §5.2: a client that tried HTTP
 * authentication (client_secret_basic) is answered 401 with a challenge in that scheme; an unknown or missing
 * `client_id` is a 400.
 */
function identifyClient(authorization: string, clientId: string | undefined): void {
  if (/^\s*basic\b/i.test(authorization)) {
    throw new UnauthorizedError('This server has public clients only: send client_id in the body, and no secret.', {
      code: 'invalid_client',
      challenge: 'Basic realm="auth"',
    });
  }
  if (clientId === undefined || !KNOWN_CLIENTS.has(clientId)) {
    throw new BadRequestError('Unknown client: send the client_id this server knows you by.', 'invalid_client');
  }
}

interface GrantContext {
  em: EntityManager;
  ip: string;
  limits: RateLimitReport;
}

export function oauthRoutes(deps: AuthAppDeps): Router<AuthContextState> {
  const router = new Router<AuthContextState>({ prefix: '/oauth' });
  router.use(oauthErrors(), formBody(deps.config.BODY_LIMIT));

  /** Each grant: its own parameters, then the use case the JSON route calls. */
  const grants = new Map<string, (params: Record<string, string>, context: GrantContext) => Promise<LoggedIn>>([
    [
      'password',
      (params, { em, ip, limits }) => {
        const { username, password } = parseBody(passwordGrant, params);
        return logIn(deps.auth, em, { email: username, password, ip, limits });
      },
    ],
    [
      'refresh_token',
      (params, { em, limits }) => {
        const { refresh_token } = parseBody(refreshGrant, params);
        return refresh(deps.auth, em, { refreshToken: refresh_token, limits });
      },
    ],
  ]);

  router.post('/token', async (ctx) => {
    const params = oauthParams(ctx.request.body);
    const { grant_type, scope } = parseBody(tokenRequest, params);
    identifyClient(ctx.get('authorization'), params.client_id);
    const grant = grants.get(grant_type);
    if (!grant) throw new BadRequestError('Use grant_type password or refresh_token.', 'unsupported_grant_type');
    if (scope !== undefined)
      throw new BadRequestError('This server issues no scopes: leave scope out.', 'invalid_scope');
    const { tokens } = await grant(params, { em: ctx.state.em, ip: ctx.ip, limits: ctx.state.limits });
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    ctx.body = oauthTokenBody(tokens);
  });

  // `token_type_hint` is not needed (and ignored): a refresh token and an access token differ in shape.
  router.post('/revoke', async (ctx) => {
    const params = oauthParams(ctx.request.body);
    const { token } = parseBody(revocationRequest, params);
    identifyClient(ctx.get('authorization'), params.client_id);
    await revokeToken(deps.auth, ctx.state.em, { token });
    // RFC 7009 §2.2: 200, whether or not the token was valid; the body carries nothing.
    ctx.body = null;
    ctx.status = 200;
  });

  return router;
}
