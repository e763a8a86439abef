/**
 * The Koa middleware that guards every API route. koa-jwt verifies the token (jsonwebtoken underneath) with
 * a key that jose resolves from the JWKS by `kid` (refetching on an unknown one), checking the algorithm
 * allowlist (ES256 only), `iss`, `aud`, `exp` and `nbf`. Then we check `typ`, the claim shapes and the
 * revocation list, and every failure becomes one 401 problem with an RFC 6750 challenge, which koa-jwt's own
 * 401 (plain text, no WWW-Authenticate) is not. A key that cannot be looked up right now (the JWKS is away)
 * is the one exception: a 503, since the token may well be good.
 *
 * A token that verified is remembered (a bounded LRU keyed by the token itself, for at most
 * `verifiedTokenTtlMs` and never past its `exp`) with the key that verified it, so a client's next requests
 * skip parsing and the signature check (a sixth of a list request's CPU). The rest is still done on every
 * request: the key is looked up again (a withdrawn key, or keys past their stale bound, end the token's run at
 * once), and expiry, the revocation list and whether that list is current are checked.
 */
import { KeyObject } from 'node:crypto';
import { type CryptoKey, decodeProtectedHeader, type JWSHeaderParameters } from 'jose';
import type { Middleware } from 'koa';
import koaJwt from 'koa-jwt';
import { LRUCache } from 'lru-cache';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.ts';
import {
  ACCESS_TOKEN_ALGORITHM,
  AccessTokenRejected,
  acceptAccessToken,
  CLOCK_TOLERANCE_SECONDS,
  type Principal,
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
  /** How long a verified token is remembered at most (default 60 s); 0 verifies every request. */
  verifiedTokenTtlMs?: number;
  /** How many verified tokens are remembered at most (default 10,000: a few MB). */
  verifiedTokenCacheSize?: number;
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

function describe(err: unknown): string {
  const e = err as { name?: string } | undefined;
  if (e?.name === 'TokenExpiredError') return 'The access token expired.';
  if (e?.name === 'NotBeforeError') return 'The access token is not valid yet.';
  if (err instanceof AccessTokenRejected) return err.message;
  return 'The access token is invalid.';
}

export function requireAccessToken(options: AccessTokenOptions): Middleware<AuthState> {
  const { keys, issuer, audience, revocations, revocationsCurrent, realm } = options;
  const ttlMs = options.verifiedTokenTtlMs ?? 60_000;
  const verified =
    ttlMs > 0
      ? new LRUCache<string, { principal: Principal; key: KeyObject }>({
          max: options.verifiedTokenCacheSize ?? 10_000,
          ttl: ttlMs,
        })
      : undefined;

  /** A remembered principal, if its token has not expired since (with the same clock tolerance). */
  function remembered(token: string): { principal: Principal; key: KeyObject } | undefined {
    const known = verified?.get(token);
    if (!known) return undefined;
    if (known.principal.expiresAt + CLOCK_TOLERANCE_SECONDS <= Math.floor(Date.now() / 1000)) {
      verified?.delete(token);
      return undefined;
    }
    return known;
  }

  function remember(token: string, principal: Principal, key: KeyObject): void {
    const leftMs = (principal.expiresAt + CLOCK_TOLERANCE_SECONDS) * 1000 - Date.now();
    if (verified && leftMs > 0) verified.set(token, { principal, key }, { ttl: Math.min(ttlMs, leftMs) });
  }

  /** The checks that follow a good signature: the profile's (`acceptAccessToken`), then the revocation list. */
  function accept(header: unknown, payload: unknown): Principal {
    const principal = acceptAccessToken(header, payload);
    if (revocations?.isRevoked(principal)) throw new AccessTokenRejected('The access token was revoked.');
    return principal;
  }

  // jose hands back the same CryptoKey for a key it has cached; convert each one for jsonwebtoken only once.
  const converted = new WeakMap<CryptoKey, KeyObject>();
  async function keyFor(header: JWSHeaderParameters): Promise<KeyObject> {
    const key = await keys(header);
    if (key instanceof KeyObject) return key;
    let keyObject = converted.get(key);
    if (!keyObject) {
      keyObject = KeyObject.from(key);
      converted.set(key, keyObject);
    }
    return keyObject;
  }

  const verify = koaJwt({
    // The key is resolved before koa-jwt runs and handed to it on `ctx.state.secret`, so that the token can be
    // remembered with it; this is what koa-jwt would use without one (it never is).
    secret: () => Promise.reject(new AccessTokenRejected('The access token is invalid.')),
    algorithms: [ACCESS_TOKEN_ALGORITHM],
    issuer,
    audience,
    key: 'accessToken',
    // We answer failures ourselves, as problem+json with a challenge.
    passthrough: true,
    // Passed through to jsonwebtoken.verify: return the header too, and tolerate a little clock skew.
    ...({ complete: true, clockTolerance: CLOCK_TOLERANCE_SECONDS } as object),
  });

  /** The principal of a token verified with `key`, through koa-jwt; throws why it is not. */
  async function verifyWith(ctx: Parameters<Middleware>[0], key: KeyObject): Promise<Principal> {
    const state = ctx.state as KoaJwtState & { secret?: KeyObject };
    state.secret = key;
    try {
      await verify(ctx, async () => {});
      if (state.jwtOriginalError !== undefined) throw state.jwtOriginalError;
      return accept(state.accessToken?.header, state.accessToken?.payload);
    } finally {
      delete state.secret;
      delete state.accessToken;
      delete state.jwtOriginalError;
    }
  }

  /** The caller, or why the token is refused (a ServiceUnavailableError when the keys cannot be looked up). */
  async function authenticate(ctx: Parameters<Middleware>[0], token: string): Promise<Principal> {
    const key = await keyFor(decodeProtectedHeader(token));
    const known = remembered(token);
    if (known?.key === key) {
      if (revocations?.isRevoked(known.principal)) throw new AccessTokenRejected('The access token was revoked.');
      return known.principal;
    }
    const principal = await verifyWith(ctx, key);
    remember(token, principal, key);
    return principal;
  }

  return async function accessTokenMiddleware(ctx, next) {
    const token = BEARER.exec(ctx.get('authorization'))?.[1];
    // RFC 6750 §3.1: a request that presents no bearer token gets a bare challenge, without an error code.
    if (!token) {
      throw new UnauthorizedError('An access token is required: send Authorization: Bearer <token>.', {
        code: 'missing_token',
        challenge: `Bearer realm="${realm}"`,
      });
    }
    try {
      ctx.state.principal = await authenticate(ctx, token);
    } catch (err) {
      // The key resolver could not tell (its key source is away): "try again", never "your token is bad".
      if (err instanceof ServiceUnavailableError) throw err;
      const detail = describe(err);
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
