/**
 * The Koa middleware that guards every API route: koa-jwt verifies the signature with a key that jose
 * resolves from the JWKS (by `kid`, refetching on an unknown one), with the algorithm allowlist, `iss`,
 * `aud`, `exp` and `nbf`; we add the `typ` check, the claim shapes and the revocation list, and turn
 * every failure into one 401 with an RFC 6750 challenge.
 */
import { KeyObject } from 'node:crypto';
import type { CryptoKey, JWSHeaderParameters } from 'jose';
import type { Middleware } from 'koa';
import koaJwt from 'koa-jwt';
import { UnauthorizedError } from '../errors.ts';
import {
  ACCESS_TOKEN_ALGORITHMS,
  accessTokenClaimsSchema,
  accessTokenHeaderSchema,
  CLOCK_TOLERANCE_SECONDS,
  type Principal,
  principalFromClaims,
} from './access-token.ts';
import type { RevocationList } from './revocations.ts';

/** Resolves the verification key for a token header (jose's `createRemoteJWKSet` or `createLocalJWKSet`). */
export type KeyResolver = (header: JWSHeaderParameters) => Promise<CryptoKey | KeyObject | Uint8Array>;

export interface AccessTokenOptions {
  keys: KeyResolver;
  issuer: string;
  audience: string;
  revocations?: RevocationList;
  realm: string;
}

export interface AuthState {
  principal: Principal;
}

const BEARER = /^\s*Bearer +[A-Za-z0-9\-._~+/]+=*\s*$/i;

class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

interface CompleteToken {
  header: unknown;
  payload: unknown;
}

function describe(err: unknown): string {
  const name = (err as { name?: string } | undefined)?.name;
  if (name === 'TokenExpiredError') return 'The access token expired.';
  if (name === 'NotBeforeError') return 'The access token is not valid yet.';
  if (err instanceof TokenRejected) return err.message;
  return 'The access token is invalid.';
}

export function requireAccessToken(options: AccessTokenOptions): Middleware<AuthState> {
  const { keys, issuer, audience, revocations, realm } = options;
  const verify = koaJwt({
    secret: async (header: JWSHeaderParameters) => {
      const key = await keys(header);
      return (key instanceof KeyObject || key instanceof Uint8Array ? key : KeyObject.from(key)) as never;
    },
    algorithms: [...ACCESS_TOKEN_ALGORITHMS],
    issuer,
    audience,
    key: 'accessToken',
    passthrough: true,
    // Passed through to jsonwebtoken.verify: return the header too, and tolerate a little clock skew.
    ...({ complete: true, clockTolerance: CLOCK_TOLERANCE_SECONDS } as object),
    isRevoked: async (_ctx, decoded) => {
      const { header, payload } = decoded as CompleteToken;
      if (!accessTokenHeaderSchema.safeParse(header).success) {
        throw new TokenRejected('The token is not an access token.');
      }
      const claims = accessTokenClaimsSchema.safeParse(payload);
      if (!claims.success) throw new TokenRejected('The access token lacks required claims.');
      if (claims.data.iat > Math.floor(Date.now() / 1000) + CLOCK_TOLERANCE_SECONDS) {
        throw new TokenRejected('The access token is not valid yet.');
      }
      const principal = principalFromClaims(claims.data);
      if (revocations?.isRevoked(principal)) throw new TokenRejected('The access token was revoked.');
      return false;
    },
  });

  return async function accessTokenMiddleware(ctx, next) {
    // RFC 6750 §3.1: a request that presents no bearer token gets a bare challenge, without an error code.
    if (!BEARER.test(ctx.get('authorization'))) {
      throw new UnauthorizedError('An access token is required: send Authorization: Bearer <token>.', {
        code: 'missing_token',
        challenge: `Bearer realm="${realm}"`,
      });
    }
    const state = ctx.state as AuthState & { accessToken?: CompleteToken; jwtOriginalError?: unknown };
    await verify(ctx, async () => {});
    if (state.jwtOriginalError !== undefined || state.accessToken === undefined) {
      const detail = describe(state.jwtOriginalError);
      throw new UnauthorizedError(detail, {
        code: 'invalid_token',
        challenge: `Bearer realm="${realm}", error="invalid_token", error_description="${detail}"`,
      });
    }
    const claims = accessTokenClaimsSchema.parse(state.accessToken.payload);
    state.principal = principalFromClaims(claims);
    return next();
  };
}
