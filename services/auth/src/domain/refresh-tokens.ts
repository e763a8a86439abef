/**
 * Refresh tokens: `v1.<session id>.<counter>.<mac>`, where mac = HMAC-SHA256(session secret,
 * `v1.<session id>.<counter>`). Opaque to clients, 256 bits of unforgeability, and nothing in the
 * database alone lets anyone mint one: the session secret is stored sealed with the KEK.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface RefreshTokenParts {
  sessionId: string;
  counter: number;
  mac: Buffer;
}

/**
 * The counter as this service writes it, in decimal without leading zeros: the MAC covers the number, so
 * `007` would otherwise be a second spelling of the token that ends in `.7.`.
 */
const FORMAT =
  /^v1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(0|[1-9]\d{0,8})\.([A-Za-z0-9_-]{43})$/;

const macOf = (secret: Buffer, sessionId: string, counter: number): Buffer =>
  createHmac('sha256', secret).update(`v1.${sessionId}.${counter}`).digest();

export function mintRefreshToken(secret: Buffer, sessionId: string, counter: number): string {
  return `v1.${sessionId}.${counter}.${macOf(secret, sessionId, counter).toString('base64url')}`;
}

/** Splits a token without trusting it; null when it is not even shaped like one of ours. */
export function parseRefreshToken(token: string): RefreshTokenParts | null {
  const match = FORMAT.exec(token);
  if (!match) return null;
  const mac = Buffer.from(match[3] as string, 'base64url');
  // 43 base64url characters carry 258 bits for 256: four spellings decode to the same MAC. Only the one
  // this service writes is accepted, so a token has exactly one valid form.
  if (mac.toString('base64url') !== match[3]) return null;
  return { sessionId: match[1] as string, counter: Number(match[2]), mac };
}

export function isAuthentic(secret: Buffer, parts: RefreshTokenParts): boolean {
  const expected = macOf(secret, parts.sessionId, parts.counter);
  return parts.mac.length === expected.length && timingSafeEqual(parts.mac, expected);
}
