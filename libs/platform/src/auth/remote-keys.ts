/**
 * The auth service's public keys, from its JWKS. jose fetches and parses the set; this module decides when
 * to fetch and what a failed fetch means. The set is refetched at least every cache max age and on an
 * unknown `kid` (at most once per cooldown). When a fetch fails, tokens keep verifying with the last good set
 * for a bounded time (stale-if-error, as RFC 5861 has it for HTTP caches): keys are published minutes before
 * they sign and stay published until their tokens expire, so the last good set is right about every key but
 * one added since. A key it cannot vouch for meanwhile is "try again" (503), never "your token is bad" (401).
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, type JWSHeaderParameters } from 'jose';
import { Counter, type Registry } from 'prom-client';
import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { KeyResolver } from './require-access-token.ts';

export interface RemoteKeysOptions {
  /** Keep fetched keys at most this long; keep it no longer than the signer's JWKS Cache-Control. */
  cacheMaxAgeMs: number;
  /** Minimum time between refetches triggered by an unknown `kid`. */
  cooldownMs: number;
  /** While the JWKS cannot be fetched, keep verifying with the last good set this long past its max age. */
  staleIfErrorMs: number;
  timeoutMs?: number;
  logger: Logger;
  /** Where `jwks_fetch_failures_total` is registered. */
  registry: Registry;
}

/** A key resolver that also says how current its keys are (the `jwks` readiness detail). */
export type RemoteKeys = KeyResolver & {
  /** `ok`; `stale: …` while verifying with the last good set; `unavailable: …` when there is none to use. */
  readiness(): string;
};

type LocalKeys = ReturnType<typeof createLocalJWKSet>;

/** While fetches fail, requests try again at most this often, so an outage does not cost a fetch per request. */
const MIN_RETRY_MS = 1_000;

const seconds = (ms: number) => Math.round(ms / 1000);

/** fetch's own message is only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is on its cause. */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? `${err.message} (${cause.code})` : err.message;
}

export function remoteKeys(jwksUrl: string, options: RemoteKeysOptions): RemoteKeys {
  const { cacheMaxAgeMs, staleIfErrorMs, logger } = options;
  const remote = createRemoteJWKSet(new URL(jwksUrl), {
    cacheMaxAge: cacheMaxAgeMs,
    cooldownDuration: options.cooldownMs,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  const retryMs = Math.min(cacheMaxAgeMs, Math.max(options.cooldownMs, MIN_RETRY_MS));
  const failures = new Counter({
    name: 'jwks_fetch_failures_total',
    help: "Failed fetches of the auth service's JWKS (unreachable, timed out, not 200, not a key set).",
    registers: [options.registry],
  });

  /** The set of the last good fetch, and when it was. */
  let good: { keys: LocalKeys; at: number } | undefined;
  /** Set while the latest fetch failed. */
  let failure: { at: number; error: unknown } | undefined;
  let fetching: Promise<boolean> | undefined;

  /** One fetch at a time, whoever asks; true when it brought a key set. */
  function refetch(): Promise<boolean> {
    fetching ??= (async () => {
      try {
        await remote.reload();
        const jwks = remote.jwks();
        if (!jwks) throw new Error('no key set after a successful fetch');
        if (failure) logger.info({ jwksUrl }, 'fetched the JWKS again');
        good = { keys: createLocalJWKSet(jwks), at: Date.now() };
        failure = undefined;
        return true;
      } catch (err) {
        failures.inc();
        if (!failure) {
          const using = good ? `the keys fetched ${seconds(Date.now() - good.at)} s ago` : 'no keys at all';
          logger.warn({ err, jwksUrl }, `cannot fetch the JWKS: verifying with ${using}`);
        }
        failure = { at: Date.now(), error: err };
        return false;
      } finally {
        fetching = undefined;
      }
    })();
    return fetching;
  }

  const backingOff = () => failure !== undefined && Date.now() < failure.at + retryMs;
  const usable = () => (good && Date.now() < good.at + cacheMaxAgeMs + staleIfErrorMs ? good.keys : undefined);

  const unavailable = (cause: unknown) =>
    new ServiceUnavailableError(
      'The keys that verify access tokens cannot be fetched from the auth service right now. Retry shortly.',
      { code: 'keys_unavailable', retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)), cause },
    );

  async function resolve(header: JWSHeaderParameters) {
    if (!remote.fresh && !backingOff()) await refetch();
    const keys = usable();
    if (!keys) throw unavailable(failure?.error);
    try {
      return await keys(header);
    } catch (err) {
      // Any other lookup failure (several keys match, an algorithm no key has) is the token's fault.
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      if (!remote.coolingDown && !backingOff() && (await refetch()) && good) return good.keys(header);
      // Unknown to a set fetched just now: a bad token. Unknown while fetches fail: maybe a key we missed.
      if (failure) throw unavailable(failure.error);
      throw err;
    }
  }

  function readiness(): string {
    if (!failure) return good ? 'ok' : 'not fetched yet';
    const last = `last error: ${reasonOf(failure.error)}`;
    if (!good) return `unavailable: never fetched (${last})`;
    const age = `last good fetch ${seconds(Date.now() - good.at)} s ago`;
    return usable() ? `stale: ${age} (${last})` : `unavailable: ${age}, past the stale bound (${last})`;
  }

  return Object.assign(resolve, { readiness });
}
