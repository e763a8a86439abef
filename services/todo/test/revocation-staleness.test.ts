import { bearer, dataOf, metric, startNatsServer, type TestNatsServer } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readinessOf } from './support/readiness.ts';
import { type Stack, startStack } from './support/stack.ts';

/** The feed counts as stale after this long without confirming it read everything (the minimum; production: 10 s). */
const STALE_AFTER_SECONDS = 1;
/** Refuse API requests once the feed has not confirmed it read everything for this long (production default: 0, off). */
const MAX_STALENESS_SECONDS = 2;
const REVOCATIONS_UNAVAILABLE = 'tag:todo-platform,2026:problems/revocations-unavailable';

describe('with REVOCATION_MAX_STALENESS_SECONDS set, the API refuses while it cannot know of recent logouts', () => {
  let nats: TestNatsServer;
  let stack: Stack;
  beforeAll(async () => {
    nats = await startNatsServer();
    stack = await startStack({
      nats: { url: nats.url },
      eventsNamespace: '',
      todoEnv: {
        REVOCATION_STALE_AFTER_SECONDS: String(STALE_AFTER_SECONDS),
        REVOCATION_MAX_STALENESS_SECONDS: String(MAX_STALENESS_SECONDS),
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await nats?.close();
  });

  const todoReadiness = () => readinessOf(stack.ops);
  const authReadiness = () => readinessOf(stack.auth.ops);

  it('NATS stops: past the bound a signed-in user gets 503 revocations-unavailable with Retry-After; NATS back: 200 again, and a logout bites within 2 s', async () => {
    const ann = await stack.auth.newUser();
    const list = () => stack.client.GET('/todos', { headers: bearer(ann.accessToken) });
    expect((await list()).response.status).toBe(200);
    expect((await todoReadiness()).details.revocations).toBe('ok');

    const stoppingAt = Date.now();
    await nats.stop();
    // Every answer until the bound is passed is a 200; then a 503, never a 401 (the token may well be good).
    const statuses: number[] = [];
    const refused = await vi.waitFor(
      async () => {
        const res = await list();
        statuses.push(res.response.status);
        expect(res.response.status).toBe(503);
        return res;
      },
      { timeout: (MAX_STALENESS_SECONDS + 5) * 1000, interval: 100, message: 'the API to refuse past the bound' },
    );
    const refusedAfterMs = Date.now() - stoppingAt;
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    // Not at once: the feed confirmed it had read everything at most a poll (200 ms) before NATS went away.
    expect(refusedAfterMs).toBeGreaterThanOrEqual(MAX_STALENESS_SECONDS * 1000 - 1000);
    expect(refused.response.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.response.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(refused.response.headers.get('www-authenticate')).toBeNull();
    expect(refused.error).toMatchObject({ type: REVOCATIONS_UNAVAILABLE, status: 503 });
    // A write is refused alike, and does nothing.
    const write = await stack.client.POST('/todos', {
      body: { title: 'Written while the feed is stale' },
      headers: bearer(ann.accessToken),
    });
    expect(write.response.status).toBe(503);
    expect(write.error).toMatchObject({ type: REVOCATIONS_UNAVAILABLE });

    // The service stays ready (the events side is a detail, never a reason to be unready) and says why.
    const during = await todoReadiness();
    expect(during.httpStatus).toBe(200);
    expect(during.details.revocations).toMatch(/^stale: not caught up for \d+ s/);
    expect(during.details.nats).not.toBe('ok');
    expect(
      metric((await stack.ops.get('/metrics')).text, 'event_follower_stale', { consumer: 'todo-revocations' }),
    ).toBe(1);

    await nats.start();
    await vi.waitFor(
      async () => {
        expect((await list()).response.status).toBe(200);
        expect((await todoReadiness()).details.revocations).toBe('ok');
        expect((await todoReadiness()).details.nats).toBe('ok');
        expect((await authReadiness()).details.nats).toBe('ok');
      },
      { timeout: 15_000, interval: 100, message: 'both services to reconnect and the API to serve again' },
    );
    // The refused write left nothing behind.
    expect(dataOf(await list()).items).toEqual([]);

    // A logout made now that NATS is back is refused by the todo service within 2 s.
    expect((await stack.auth.client.POST('/auth/logout', { headers: bearer(ann.accessToken) })).response.status).toBe(
      204,
    );
    const revoked = await vi.waitFor(
      async () => {
        const res = await list();
        expect(res.response.status).toBe(401);
        return res;
      },
      { timeout: 2_000, interval: 50, message: 'the logged-out token to be refused' },
    );
    expect(revoked.error).toMatchObject({ type: 'tag:todo-platform,2026:problems/invalid-token' });
  });
});
