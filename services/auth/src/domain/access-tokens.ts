/** Minting access tokens (RFC 9068 profile): ES256, `kid` and `typ: at+jwt` in the header. */
import { randomUUID } from 'node:crypto';
import { ACCESS_TOKEN_TYPE } from '@todo/platform/auth';
import { SignJWT } from 'jose';
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
    { userId, sessionId, clientId = 'todo-web' }: AccessTokenSubject,
    now = new Date(),
  ): Promise<IssuedAccessToken> {
    const key = this.#keys.active(now);
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.#settings.ttlSeconds;
    const token = await new SignJWT({ sid: sessionId, client_id: clientId })
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
}
