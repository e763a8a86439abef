import { randomUUID } from 'node:crypto';
import { bearer, metric, removeStreams, type TestUser } from '@todo/testkit';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

/** Keys go stale within a second, and an unknown kid may always ask for the JWKS again. */
const QUICK_KEYS = { JWKS_CACHE_MAX_AGE_SECONDS: '1', JWKS_COOLDOWN_SECONDS: '0' };

/**
 * A stack whose auth service a test stops. The stack's own stop would stop it again, so this one stops the
 * todo service, the auth service (once) and removes the database and streams itself.
 */
async function stackWithStoppableAuth(todoEnv: Record<string, string>) {
  const stack = await startStack({ authEnv: { JWKS_MAX_AGE_SECONDS: '1' }, todoEnv: { ...QUICK_KEYS, ...todoEnv } });
  let authStopped: Promise<void> | undefined;
  const stopAuth = () => {
    authStopped ??= stack.auth.service.stop();
    return authStopped;
  };
  return {
    stack,
    stopAuth,
    async close() {
      await stack.todo.stop();
      await stopAuth();
      await stack.auth.database.drop();
      await removeStreams(stack.todoConfig.NATS_URL, stack.todoConfig.EVENTS_NAMESPACE);
    },
  };
}

/** A well-formed access token for `user`, signed by a key of our own that the auth service never published. */
async function tokenOfAnUnpublishedKey(stack: Stack, user: TestUser): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: `unpublished-${randomUUID()}`, typ: 'at+jwt' })
    .setIssuer(stack.auth.config.JWT_ISSUER)
    .setAudience(stack.auth.config.JWT_AUDIENCE)
    .setSubject(user.id)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(privateKey);
}

const fetchFailures = async (stack: Stack) =>
  metric((await stack.ops.get('/metrics')).text, 'jwks_fetch_failures_total');

const jwksDetail = async (stack: Stack) => {
  const ready = await stack.ops.get<{ details: Record<string, string> }>('/readyz');
  expect(ready.status).toBe(200);
  return ready.body.details.jwks;
};

describe('while the auth service is down, good tokens keep working and unknown keys are "try again", not "bad token"', () => {
  let outage: Awaited<ReturnType<typeof stackWithStoppableAuth>>;
  let stack: Stack;
  let ann: TestUser;

  beforeAll(async () => {
    outage = await stackWithStoppableAuth({});
    stack = outage.stack;
    ann = await stack.auth.newUser();
  });
  afterAll(() => outage?.close());

  it('a user logs in and the token works', async () => {
    expect((await stack.client.GET('/todos', { headers: bearer(ann.accessToken) })).response.status).toBe(200);
    expect(await jwksDetail(stack)).toBe('ok');
  });

  it('with the auth service up, a key it never published is still a 401 invalid_token', async () => {
    const res = await stack.client.GET('/todos', { headers: bearer(await tokenOfAnUnpublishedKey(stack, ann)) });
    expect(res.response.status).toBe(401);
    expect(res.response.headers.get('content-type')).toContain('application/problem+json');
    expect(res.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(res.error).toMatchObject({ type: 'tag:todo-platform,2026:problems/invalid-token' });
    expect(await fetchFailures(stack)).toBe(0);
  });

  it('once the auth service is stopped and the keys are past their max age, the token still works', async () => {
    await outage.stopAuth();
    const statuses: number[] = [];
    // Every request until the JWKS was refetched (and failed) is a 200, and so is each one after.
    await vi.waitFor(
      async () => {
        statuses.push((await stack.client.GET('/todos', { headers: bearer(ann.accessToken) })).response.status);
        expect(await fetchFailures(stack)).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const created = await stack.client.POST('/todos', {
      body: { title: 'Written during the outage' },
      headers: bearer(ann.accessToken),
    });
    expect(created.response.status).toBe(201);
  });

  it('a token naming a key the service does not hold is a 503 keys_unavailable with Retry-After', async () => {
    const res = await stack.client.GET('/todos', { headers: bearer(await tokenOfAnUnpublishedKey(stack, ann)) });
    expect(res.response.status).toBe(503);
    expect(res.response.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(res.response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.response.headers.get('www-authenticate')).toBeNull();
    expect(res.error).toMatchObject({ type: 'tag:todo-platform,2026:problems/keys-unavailable', status: 503 });
  });

  it('the failed fetches are counted, and /readyz stays 200 with the jwks detail saying how stale the keys are', async () => {
    expect(await fetchFailures(stack)).toBeGreaterThanOrEqual(1);
    expect(await jwksDetail(stack)).toMatch(/^stale: last good fetch \d+ s ago \(last error: .+\)$/);
  });
});

describe('once the last good keys are older than the stale bound, even a good token is a 503, never a 401', () => {
  let outage: Awaited<ReturnType<typeof stackWithStoppableAuth>>;
  let stack: Stack;

  beforeAll(async () => {
    outage = await stackWithStoppableAuth({ JWKS_STALE_IF_ERROR_SECONDS: '1' });
    stack = outage.stack;
  });
  afterAll(() => outage?.close());

  it('serves from the stale keys for a while, then answers 503 with Retry-After until it can fetch again', async () => {
    const ann = await stack.auth.newUser();
    expect((await stack.client.GET('/todos', { headers: bearer(ann.accessToken) })).response.status).toBe(200);
    await outage.stopAuth();

    const statuses: number[] = [];
    const refused = await vi.waitFor(
      async () => {
        const res = await stack.client.GET('/todos', { headers: bearer(ann.accessToken) });
        statuses.push(res.response.status);
        expect(res.response.status).toBe(503);
        return res;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(refused.response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.error).toMatchObject({ type: 'tag:todo-platform,2026:problems/keys-unavailable' });
    expect(await jwksDetail(stack)).toMatch(/^unavailable: last good fetch \d+ s ago, past the stale bound/);
  });
});
