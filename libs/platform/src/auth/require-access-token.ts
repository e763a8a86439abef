/**
 * The Koa middleware that guards every API route. koa-jwt verifies the token (jsonwebtoken underneath) with
 * a key that jose resolves from the JWKS by `kid` (refetching on an unknown one), checking the algorithm
 * allowlist (ES256 only), `iss`, `aud`, `exp` and `nbf`. Then we check `typ`, the claim shapes and the
 * revocation list, and every failure becomes one 401 problem with an RFC 6750 challenge, which koa-jwt's own
 * 401 (plain text, no WWW-Authenticate) is not. A key that cannot be looked up right now (the JWKS is away)
 * is the one exception: a 503, since the token may well be good.
 */
import { KeyObject } from 'node:crypto';
import type { CryptoKey, JWSHeaderParameters } from 'jose';
import type { Middleware } from 'koa';
import koaJwt from 'koa-jwt';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.ts';
import {
  ACCESS_TOKEN_ALGORITHM,
  accessTokenClaimsSchema,
  accessTokenHeaderSchema,
  CLOCK_TOLERANCE_SECONDS,
  type Principal,
  principalFromClaims,
} from './access-token.ts';
import type { RevocationList } from './revocations.ts';

/**
 * Resolves the verification key for a token header (`remoteKeys` or a local lookup). It throws a
 * `ServiceUnavailableError` when it cannot tell whether the key exists; that is answered as it is, not as a 401.
 */
export type KeyResolver = (header: JWSHeaderParameters) => Promise<CryptoKey | KeyObject>;

export interface AccessTokenOptions {
  keys: KeyResolver;
  issuer: string;
  audience: string;
  revocations?: RevocationList;
  /**
   * False while the revocation list cannot be trusted to be current (its feed is stale beyond the configured
   * bound): a token that verifies is then answered 503, since it may have been revoked in the meantime.
   */
  revocationsCurrent?: () => boolean;
  realm: string;
}

export interface AuthState {
  principal: Principal;
}

/** What koa-jwt leaves on the state: the decoded token (with `complete`), or why verification failed. */
interface KoaJwtState {
  accessToken?: { header: unknown; payload: unknown };
  jwtOriginalError?: { name?: string; message?: string };
}

const BEARER = /^\s*Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i;

class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

function describe(err: unknown): string {
  const e = err as { name?: string } | undefined;
  if (e?.name === 'TokenExpiredError') return 'The access token expired.';
  if (e?.name === 'NotBeforeError') return 'The access token is not valid yet.';
  if (err instanceof TokenRejected) return err.message;
  return 'The access token is invalid.';
}

export function requireAccessToken(options: AccessTokenOptions): Middleware<AuthState> {
  const { keys, issuer, audience, revocations, revocationsCurrent, realm } = options;

  /** The checks that follow a good signature. */
  function accept(header: unknown, payload: unknown): Principal {
    if (!accessTokenHeaderSchema.safeParse(header).success)
      throw new TokenRejected('The token is not an access token.');
    const claims = accessTokenClaimsSchema.safeParse(payload);
    if (!claims.success) throw new TokenRejected('The access token lacks required claims.');
    if (claims.data.iat > Math.floor(Date.now() / 1000) + CLOCK_TOLERANCE_SECONDS) {
      throw new TokenRejected('The access token is not valid yet.');
    }
    const principal = principalFromClaims(claims.data);
    if (revocations?.isRevoked(principal)) throw new TokenRejected('The access token was revoked.');
    return principal;
  }

  // jose hands back the same CryptoKey for a key it has cached; convert each one for jsonwebtoken only once.
  const converted = new WeakMap<CryptoKey, KeyObject>();
  const verify = koaJwt({
    secret: async (header: JWSHeaderParameters) => {
      const key = await keys(header);
      if (key instanceof KeyObject) return key as never;
      let keyObject = converted.get(key);
      if (!keyObject) {
        keyObject = KeyObject.from(key);
        converted.set(key, keyObject);
      }
      return keyObject as never;
    },
    algorithms: [ACCESS_TOKEN_ALGORITHM],
    issuer,
    audience,
    key: 'accessToken',
    // We answer failures ourselves, as problem+json with a challenge.
    passthrough: true,
    // Passed through to jsonwebtoken.verify: return the header too, and tolerate a little clock skew.
    ...({ complete: true, clockTolerance: CLOCK_TOLERANCE_SECONDS } as object),
  });

  return async function accessTokenMiddleware(ctx, next) {
    const token = BEARER.exec(ctx.get('authorization'))?.[1];
    // RFC 6750 §3.1: a request that presents no bearer token gets a bare challenge, without an error code.
    if (!token) {
      throw new UnauthorizedError('An access token is required: send Authorization: Bearer <token>.', {
        code: 'missing_token',
        challenge: `Bearer realm="${realm}"`,
      });
    }
    await verify(ctx, async () => {});
    const state = ctx.state as Partial<AuthState> & KoaJwtState;
    let failure: unknown = state.jwtOriginalError;
    if (failure === undefined) {
      try {
        state.principal = accept(state.accessToken?.header, state.accessToken?.payload);
      } catch (err) {
        failure = err;
      }
    }
    delete state.accessToken;
    delete state.jwtOriginalError;
    // The key resolver could not tell (its key source is away): "try again", never "your token is bad".
    if (failure instanceof ServiceUnavailableError) throw failure;
    if (failure !== undefined || state.principal === undefined) {
      const detail = describe(failure);
      throw new UnauthorizedError(detail, {
        code: 'invalid_token',
        challenge: `Bearer realm="${realm}", error="invalid_token", error_description="${detail}"`,
      });
    }
    if (revocationsCurrent && !revocationsCurrent()) {
      throw new ServiceUnavailableError(
        'Cannot tell whether this access token was revoked: the revocation feed is behind. Retry shortly.',
        { code: 'revocations_unavailable', retryAfterSeconds: 5 },
      );
    }
    return next();
  };
}
