/**
 * The access-token profile both services agree on (RFC 9068 with RFC 8725's rules): what a valid token's
 * header and claims look like, and who its bearer is once it verified (`acceptAccessToken`).
 */
import { z } from 'zod';

/** RFC 9068 §2.1: the `typ` header that tells an access token from an ID token or any other JWT. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/**
 * The one signing algorithm: asymmetric (a verifier never holds a key that can sign), and one that koa-jwt's
 * verifier (jsonwebtoken) supports, so every token goes through one verification path. EdDSA was dropped
 * for that reason: it needed a second verifier beside koa-jwt and bought nothing ES256 lacks here.
 */
export const ACCESS_TOKEN_ALGORITHM = 'ES256';

/** Seconds of clock skew tolerated between the signer and the verifier. */
export const CLOCK_TOLERANCE_SECONDS = 5;

const accessTokenHeaderSchema = z.object({
  alg: z.literal(ACCESS_TOKEN_ALGORITHM),
  kid: z.string().min(1),
  // RFC 9068 §4: "at+jwt", and "application/at+jwt" is the same media type.
  typ: z.string().refine((t) => ['at+jwt', 'application/at+jwt'].includes(t.toLowerCase()), {
    message: 'typ must be at+jwt',
  }),
});

export const accessTokenClaimsSchema = z.object({
  iss: z.string(),
  sub: z.uuid(),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string().min(1),
  sid: z.string().min(1),
  client_id: z.string().min(1).optional(),
});
export type AccessTokenClaims = z.infer<typeof accessTokenClaimsSchema>;

/** The verified caller, as route handlers see it. */
export interface Principal {
  userId: string;
  sessionId: string;
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
}

const principalFromClaims = (claims: AccessTokenClaims): Principal => ({
  userId: claims.sub,
  sessionId: claims.sid,
  tokenId: claims.jti,
  issuedAt: claims.iat,
  expiresAt: claims.exp,
});

/** Why a token is not accepted; its message is fit to tell the client. */
export class AccessTokenRejected extends Error {
  override readonly name = 'AccessTokenRejected';
}

/**
 * The checks that follow a good signature (and the verifier's `iss`, `aud`, `exp` and `nbf` checks): the
 * header is an access token's (ES256, a `kid`, `typ: at+jwt`), the claims have their shapes, and `iat` is not
 * in the future beyond the clock tolerance. The bearer, or an `AccessTokenRejected` saying why not. Whether
 * the token was revoked is the caller's to check.
 */
export function acceptAccessToken(header: unknown, payload: unknown): Principal {
  if (!accessTokenHeaderSchema.safeParse(header).success)
    throw new AccessTokenRejected('The token is not an access token.');
  const claims = accessTokenClaimsSchema.safeParse(payload);
  if (!claims.success) throw new AccessTokenRejected('The access token lacks required claims.');
  if (claims.data.iat > Math.floor(Date.now() / 1000) + CLOCK_TOLERANCE_SECONDS) {
    throw new AccessTokenRejected('The access token is not valid yet.');
  }
  return principalFromClaims(claims.data);
}
