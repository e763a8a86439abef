import { createRemoteJWKSet } from 'jose';
import type { KeyResolver } from './require-access-token.ts';

export interface RemoteKeysOptions {
  /** Keep fetched keys at most this long; keep it no longer than the signer's JWKS Cache-Control. */
  cacheMaxAgeMs: number;
  /** Minimum time between refetches triggered by an unknown `kid`. */
  cooldownMs: number;
  timeoutMs?: number;
}

/** Keys from the auth service's JWKS, cached and refetched when a token names a `kid` not seen yet. */
export function remoteKeys(jwksUrl: string, options: RemoteKeysOptions): KeyResolver {
  const set = createRemoteJWKSet(new URL(jwksUrl), {
    cacheMaxAge: options.cacheMaxAgeMs,
    cooldownDuration: options.cooldownMs,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  return (header) => set(header);
}
