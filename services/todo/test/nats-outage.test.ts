import { setTimeout as delay } from 'node:timers/promises';
import { todoEventsStream } from '@todo/platform/events';
import { bearer, dataOf, metric, readStream, startNatsServer, type TestNatsServer } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { unpublishedTodoEvents } from './support/events.ts';
import { readinessOf } from './support/readiness.ts';
import { type Stack, startStack } from './support/stack.ts';

/** The feed counts as stale after this long without confirming it read everything (production: 10 s). */
const STALE_AFTER_SECONDS = 2;

describe('when NATS goes away and comes back, nothing is lost and revocations keep biting', () => {
  let nats: TestNatsServer;
  let stack: Stack;
  beforeAll(async () => {
    nats = await startNatsServer();
    stack = await startStack({
      nats: { url: nats.url },
      eventsNamespace: '',
      todoEnv: { REVOCATION_STALE_AFTER_SECONDS: String(STALE_AFTER_SECONDS) },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await nats?.close();
  });

  const todoReadiness = () => readinessOf(stack.ops);
  const authReadiness = () => readinessOf(stack.auth.ops);
  const bothConnected = async () =>
    (await todoReadiness()).details.nats === 'ok' && (await authReadiness()).details.nats === 'ok';

  it('across a NATS restart the feed shows the gap while NATS is down, then a logout is refused within 2 s', async () => {
    const ann = await stack.auth.newUser();
    const bob = await stack.auth.newUser();
    expect((await stack.client.GET('/todos', { headers: bearer(ann.accessToken) })).response.status).toBe(200);

    await nats.stop();
    // The gap shows: a readiness detail and a metric, while the service stays ready and keeps serving.
    const during = await vi.waitFor(
      async () => {
        const readiness = await todoReadiness();
        expect(readiness.details.revocations).toMatch(/^stale/);
        return readiness;
      },
      { timeout: (STALE_AFTER_SECONDS + 5) * 1000, message: 'the revocation feed to report itself stale' },
    );
    expect(during.httpStatus).toBe(200);
    expect(during.details.nats).not.toBe('ok');
    const metrics = (await stack.ops.get('/metrics')).text;
    expect(metric(metrics, 'event_follower_stale', { consumer: 'todo-revocations' })).toBe(1);
    expect(metric(metrics, 'event_follower_lag_seconds', { consumer: 'todo-revocations' })).toBeGreaterThan(
      STALE_AFTER_SECONDS,
    );
    expect(metric(metrics, 'nats_connected')).toBe(0);
    expect((await stack.client.GET('/todos', { headers: bearer(ann.accessToken) })).response.status).toBe(200);
    // The auth service stays ready as well, with NATS shown down: its outbox keeps the events meanwhile.
    const authDuring = await vi.waitFor(
      async () => {
        const readiness = await authReadiness();
        expect(readiness.details.nats).not.toBe('ok');
        return readiness;
      },
      { timeout: 5_000, message: "the auth service's readiness to show NATS down" },
    );
    expect(authDuring.httpStatus).toBe(200);
    expect(authDuring.details.nats).toBe('disconnected');
    // A logout while NATS is away is acknowledged, and its event waits in the outbox.
    expect((await stack.auth.client.POST('/auth/logout', { headers: bearer(bob.accessToken) })).response.status).toBe(
      204,
    );

    await nats.start();
    await vi.waitFor(
      async () => {
        expect((await todoReadiness()).details.revocations).toBe('ok');
        expect(await bothConnected()).toBe(true);
      },
      { timeout: 15_000, message: 'both services to reconnect and the feed to catch up' },
    );
    expect(
      metric((await stack.ops.get('/metrics')).text, 'event_follower_stale', { consumer: 'todo-revocations' }),
    ).toBe(0);
    // The logout made during the outage bites now…
    await vi.waitFor(
      async () =>
        expect((await stack.client.GET('/todos', { headers: bearer(bob.accessToken) })).response.status).toBe(401),
      {
        timeout: 5_000,
        message: 'the logout made during the outage to be applied',
      },
    );
    // …and one made after the restart within 2 s.
    expect((await stack.auth.client.POST('/auth/logout', { headers: bearer(ann.accessToken) })).response.status).toBe(
      204,
    );
    await vi.waitFor(
      async () =>
        expect((await stack.client.GET('/todos', { headers: bearer(ann.accessToken) })).response.status).toBe(401),
      {
        timeout: 2_000,
        message: 'the logged-out token to be refused after the restart',
      },
    );
  });

  it('200 todos created, changed and deleted during a 10 s outage: every call succeeds, every event arrives once, in order', async () => {
    const ann = await stack.auth.newUser();
    await nats.stop();
    const stoppedAt = Date.now();
    const statuses: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const created = await stack.client.POST('/todos', {
        body: { title: `offline ${i}` },
        headers: bearer(ann.accessToken),
      });
      statuses.push(created.response.status);
      ids.push(dataOf(created).id);
    }
    const todo = (id: string) => ({ params: { path: { id } }, headers: bearer(ann.accessToken) });
    for (const id of ids) {
      statuses.push((await stack.client.PATCH('/todos/{id}', { ...todo(id), body: { done: true } })).response.status);
    }
    for (const id of ids.filter((_, i) => i % 4 === 0)) {
      statuses.push((await stack.client.DELETE('/todos/{id}', todo(id))).response.status);
    }
    expect(statuses.filter((s) => s >= 300)).toEqual([]);
    expect(await unpublishedTodoEvents(stack)).toBe(200 + 200 + 50);
    // The outage lasts 10 s whatever the speed of the calls above.
    await delay(Math.max(0, 10_000 - (Date.now() - stoppedAt)));
    await nats.start();

    await vi.waitFor(async () => expect(await unpublishedTodoEvents(stack)).toBe(0), {
      timeout: 30_000,
      message: 'the outbox to be published after NATS came back',
    });
    const recorded = await stack.auth.sql('select id from todo.outbox');
    const events = (await readStream(nats.url, todoEventsStream('').name))
      .map((m) => m.body as { id: string; subject: string; type: string; data: { version: number; ownerId: string } })
      .filter((e) => e.data.ownerId === ann.id);
    // Exactly once per id: every event the outbox recorded is in the stream, none twice.
    const eventIds = events.map((e) => e.id);
    expect(new Set(eventIds).size).toBe(eventIds.length);
    expect(eventIds.length).toBe(450);
    const recordedIds = new Set(recorded.map((r) => r.id as string));
    for (const id of eventIds) expect(recordedIds.has(id)).toBe(true);
    // Per todo, in version order: created 1, updated 2, then deleted 3 for every fourth.
    for (const [i, id] of ids.entries()) {
      const mine = events.filter((e) => e.subject === id).map((e) => [e.type, e.data.version]);
      const expected = [
        ['todo.created', 1],
        ['todo.updated', 2],
      ];
      if (i % 4 === 0) expected.push(['todo.deleted', 3]);
      expect(mine).toEqual(expected);
    }
  });
});
