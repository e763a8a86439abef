import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors, exportJWK, generateKeyPair } from 'jose';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RemoteKeys, remoteKeys } from '../src/auth/remote-keys.ts';
import { ServiceUnavailableError } from '../src/errors.ts';
import { createLogger } from '../src/logger.ts';

const MAX_AGE_MS = 60_000;
const COOLDOWN_MS = 30_000;
const STALE_IF_ERROR_MS = 600_000;

/** A JWKS endpoint that can be made to fail, and counts the fetches it sees. */
async function jwksEndpoint() {
  const { publicKey } = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  const endpoint = { fetches: 0, down: false, url: '', server: undefined as Server | undefined };
  endpoint.server = createServer((_req, res) => {
    endpoint.fetches++;
    if (endpoint.down) {
      res.statusCode = 503;
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(jwks));
  });
  endpoint.server.listen(0, '127.0.0.1');
  await once(endpoint.server, 'listening');
  endpoint.url = `http://127.0.0.1:${(endpoint.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return endpoint;
}

const known = { alg: 'ES256', kid: 'k1' };
const unknown = { alg: 'ES256', kid: 'k2' };

describe('the keys of a remote JWKS', () => {
  let endpoint: Awaited<ReturnType<typeof jwksEndpoint>>;
  let registry: Registry;
  let keys: RemoteKeys;
  const failedFetches = async () =>
    (await registry.getSingleMetric('jwks_fetch_failures_total')?.get())?.values[0]?.value;
  const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

  beforeAll(async () => {
    endpoint = await jwksEndpoint();
  });
  afterAll(() => endpoint.server?.close());
  beforeEach(() => {
    // Only the clock is fake: the JWKS still comes over real HTTP.
    vi.useFakeTimers({ toFake: ['Date'] });
    endpoint.down = false;
    endpoint.fetches = 0;
    registry = new Registry();
    keys = remoteKeys(endpoint.url, {
      cacheMaxAgeMs: MAX_AGE_MS,
      cooldownMs: COOLDOWN_MS,
      staleIfErrorMs: STALE_IF_ERROR_MS,
      logger: createLogger({ service: 'test', level: 'silent' }),
      registry,
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fetches once, verifies from the cache, and refetches after the max age', async () => {
    expect(keys.readiness()).toBe('not fetched yet');
    await keys(known);
    await keys(known);
    expect(endpoint.fetches).toBe(1);
    advance(MAX_AGE_MS + 1);
    await keys(known);
    expect(endpoint.fetches).toBe(2);
    expect(keys.readiness()).toBe('ok');
  });

  it('a kid missing from a set it could fetch is the token’s fault, refetched at most once per cooldown', async () => {
    await expect(keys(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    await expect(keys(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(endpoint.fetches).toBe(1);
    advance(COOLDOWN_MS + 1);
    await expect(keys(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(endpoint.fetches).toBe(2);
  });

  it('while the JWKS fails: the last good keys verify, one failed fetch is counted once, and it retries per cooldown', async () => {
    await keys(known);
    endpoint.down = true;
    advance(MAX_AGE_MS + 1);
    await Promise.all([keys(known), keys(known), keys(known)]);
    expect(endpoint.fetches).toBe(2);
    expect(await failedFetches()).toBe(1);
    expect(keys.readiness()).toMatch(/^stale: last good fetch 60 s ago \(last error: .*200 OK.*\)$/);

    // Requests in between neither wait for nor cause a fetch.
    await keys(known);
    expect(endpoint.fetches).toBe(2);
    advance(COOLDOWN_MS + 1);
    await keys(known);
    expect(endpoint.fetches).toBe(3);
    expect(await failedFetches()).toBe(2);
  });

  it('while the JWKS fails, an unknown kid is a 503 keys_unavailable with Retry-After, not a bad token', async () => {
    await keys(known);
    endpoint.down = true;
    advance(MAX_AGE_MS + 1);
    const refused = await keys(unknown).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ServiceUnavailableError);
    expect(refused).toMatchObject({ status: 503, code: 'keys_unavailable', headers: { 'Retry-After': '30' } });
  });

  it('past the stale bound even a known key is a 503, and readiness says so', async () => {
    await keys(known);
    endpoint.down = true;
    advance(MAX_AGE_MS + STALE_IF_ERROR_MS + 1);
    await expect(keys(known)).rejects.toMatchObject({ code: 'keys_unavailable' });
    expect(keys.readiness()).toMatch(/^unavailable: last good fetch 660 s ago, past the stale bound/);
  });

  it('recovers as soon as a retry succeeds', async () => {
    await keys(known);
    endpoint.down = true;
    advance(MAX_AGE_MS + 1);
    await keys(known);
    endpoint.down = false;
    advance(COOLDOWN_MS + 1);
    await keys(known);
    expect(keys.readiness()).toBe('ok');
    await expect(keys(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
  });

  it('never fetched and unreachable: every token is a 503', async () => {
    endpoint.down = true;
    await expect(keys(known)).rejects.toMatchObject({ code: 'keys_unavailable' });
    expect(keys.readiness()).toMatch(/^unavailable: never fetched/);
  });
});
