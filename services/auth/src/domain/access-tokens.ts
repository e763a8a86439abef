/** Minting access tokens (RFC 9068 profile): ES256, `kid` and `typ: at+jwt` in the header; and recognising them. */
import { randomUUID } from 'node:crypto';
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TYPE,
  acceptAccessToken,
  CLOCK_TOLERANCE_SECONDS,
} from '@todo/platform/auth';
import { jwtVerify, SignJWT } from 'jose';
import type { SigningKeys } from '../keys/signing-keys.ts';

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
  /** Epoch seconds. */
  expiresAt: number;
}

export interface AccessTokenSubject {
  userId: string;
  sessionId: string;
  clientId?: string;
  /** The `email_verified` claim (OpenID Connect's name): whether the user proved the address theirs. */
  emailVerified?: boolean;
}

export class AccessTokenIssuer {
  readonly #keys: SigningKeys;
  readonly #settings: AccessTokenSettings;

  constructor(keys: SigningKeys, settings: AccessTokenSettings) {
    this.#keys = keys;
    this.#settings = settings;
  }

  get ttlSeconds(): number {
    return this.#settings.ttlSeconds;
  }

  async issue(
    { userId, sessionId, clientId = 'todo-web', emailVerified = false }: AccessTokenSubject,
    now = new Date(),
  ): Promise<IssuedAccessToken> {
    const key = this.#keys.active(now);
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.#settings.ttlSeconds;
    const token = await new SignJWT({ sid: sessionId, client_id: clientId, email_verified: emailVerified })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.#settings.issuer)
      .setSubject(userId)
      .setAudience(this.#settings.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresIn: this.#settings.ttlSeconds, expiresAt: exp };
  }

  /**
   * Whose session a still-valid access token of ours belongs to, or undefined for anything else (expired,
   * forged, another issuer's, not an access token), for token revocation (`/oauth/revoke`), where the token
   * arrives in a form field rather than an `Authorization` header. The signature, `iss`, `aud`, `exp` and `nbf`
   * (with the same clock tolerance) are checked here with jose's jwtVerify against our published keys: a second
   * signature path beside the bearer middleware's koa-jwt one, for revocation only. What follows a good
   * signature (the header's `alg`, `kid` and `typ`, the claims' shapes, `iat` not in the future) is the
   * middleware's own check, `acceptAccessToken`. Nothing here does I/O, so every failure is the token's.
   */
  async subjectOf(token: string): Promise<{ userId: string; sessionId: string } | undefined> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.#keys.resolver(), {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        typ: ACCESS_TOKEN_TYPE,
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const { userId, sessionId } = acceptAccessToken(protectedHeader, payload);
      return { userId, sessionId };
    } catch {
      return undefined;
    }
  }
}
