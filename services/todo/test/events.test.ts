import {
  authEventsStream,
  deadLetterStream,
  SESSION_REVOKED,
  USER_DELETED,
  USER_REGISTERED,
} from '@todo/platform/events';
import { bearer, dataOf, metric, publishRaw, readStream, type StoredMessage } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  authEvent,
  consumerDrained,
  namespaceOf,
  subjectIn,
  todoEvents,
  todosOf,
  unpublishedTodoEvents,
  userDeleted,
} from './support/events.ts';
import { type Stack, startStack } from './support/stack.ts';

const FORGETTER = 'todo-forget-deleted-users';
/** The todo service's revocation follower, which reads auth.user.deleted too. */
const REVOCATIONS = 'todo-revocations';
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('other teams can follow every change as an event', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  const natsUrl = () => stack.todoConfig.NATS_URL;

  /**
   * The dead letters of the AUTH_EVENTS message at `seq`, by the consumer that refused it, once every consumer
   * in `consumers` has stored its own (each consumer that refuses an event dead-letters it once).
   */
  const deadLettersOf = (seq: number, consumers: readonly string[]) =>
    vi.waitFor(
      async () => {
        const namespace = namespaceOf(stack);
        const letters = (await readStream(natsUrl(), deadLetterStream(namespace).name)).filter(
          (m) =>
            m.headers['Dead-Letter-Stream']?.[0] === authEventsStream(namespace).name &&
            m.headers['Dead-Letter-Sequence']?.[0] === String(seq),
        );
        const byConsumer = new Map(letters.map((m) => [m.headers['Dead-Letter-Consumer']?.[0], m]));
        const missing = consumers.filter((consumer) => !byConsumer.has(consumer));
        if (missing.length > 0) throw new Error(`no dead letter yet from ${missing.join(', ')}`);
        return { letters, byConsumer };
      },
      { timeout: 5_000, message: `the dead letters of ${consumers.join(', ')}` },
    );

  it('a todo created (idempotently, twice), changed twice and deleted publishes four events, in version order', async () => {
    const ann = await stack.auth.newUser();
    const asAnn = { headers: bearer(ann.accessToken) };
    const send = {
      body: { title: 'Publish me' },
      params: { header: { 'Idempotency-Key': '"events-1"' } },
      ...asAnn,
    };
    const created = await stack.client.POST('/todos', send);
    const replayed = await stack.client.POST('/todos', send);
    expect(replayed.response.headers.get('idempotent-replayed')).toBe('true');
    const id = dataOf(created).id;
    const todo = { params: { path: { id } }, ...asAnn };
    const first = await stack.client.PATCH('/todos/{id}', { ...todo, body: { done: true } });
    const second = await stack.client.PATCH('/todos/{id}', {
      ...todo,
      body: { title: 'Published', description: 'with a due date', dueAt: '2026-12-24T18:30:00.250+01:00' },
    });
    expect(second.data?.dueAt).toBe('2026-12-24T17:30:00.250Z');
    expect((await stack.client.DELETE('/todos/{id}', todo)).response.status).toBe(204);

    const mine = await vi.waitFor(
      async () => {
        const events = (await todoEvents(stack)).filter((e) => e.subject === id);
        expect(events.length).toBeGreaterThanOrEqual(4);
        return events;
      },
      { timeout: 5_000, message: 'the todo events to be published' },
    );
    expect(mine.map((e) => [e.type, e.data.version])).toEqual([
      ['todo.created', 1],
      ['todo.updated', 2],
      ['todo.updated', 3],
      ['todo.deleted', 4],
    ]);
    expect(mine.map((e) => e.data.todo ?? null)).toEqual([created.data, first.data, second.data, null]);
    for (const event of mine) {
      expect(event).toMatchObject({ specversion: '1.0', source: 'todo-platform/todo', subject: id });
      expect(event.id).toMatch(UUID_V7);
      expect(event.data).toMatchObject({ ownerId: ann.id, todoId: id });
    }
    expect(mine.at(-1)?.data.reason).toBe('deleted');
  });

  it('each event is stored once, under its id as the message id, as a CloudEvent', async () => {
    const ann = await stack.auth.newUser();
    const body = dataOf(
      await stack.client.POST('/todos', { body: { title: 'Once' }, headers: bearer(ann.accessToken) }),
    );
    await vi.waitFor(async () => expect(await unpublishedTodoEvents(stack)).toBe(0), {
      timeout: 5_000,
      message: 'the outbox to empty',
    });
    const stored = (await readStream(natsUrl(), `${namespaceOf(stack).toUpperCase()}_TODO_EVENTS`)).filter(
      (m) => (m.body as { subject?: string }).subject === body.id,
    );
    expect(stored).toHaveLength(1);
    const [message] = stored as [StoredMessage];
    expect(message.headers['Nats-Msg-Id']).toEqual([(message.body as { id: string }).id]);
    expect(message.headers['Content-Type']).toEqual(['application/cloudevents+json']);
    expect(message.subject).toBe(subjectIn(stack, 'todo.created'));
  });

  it('registering publishes auth.user.registered with the new id and email', async () => {
    const ann = await stack.auth.newUser();
    const registered = await vi.waitFor(
      async () => {
        const found = (await readStream(natsUrl(), `${namespaceOf(stack).toUpperCase()}_AUTH_EVENTS`))
          .map((m) => m.body as { type: string; subject: string; data: Record<string, unknown> })
          .find((e) => e.type === USER_REGISTERED && e.subject === ann.id);
        if (!found) throw new Error('not in the stream yet');
        return found;
      },
      { timeout: 5_000, message: 'auth.user.registered' },
    );
    expect(registered.data).toMatchObject({ userId: ann.id, email: ann.email });
  });

  it('deleting an account with 100 todos leaves none of them within 2 s, and publishes todo.deleted for each', async () => {
    const ann = await stack.auth.newUser();
    for (let i = 0; i < 100; i++) {
      const created = await stack.client.POST('/todos', {
        body: { title: `todo ${i}` },
        headers: bearer(ann.accessToken),
      });
      expect(created.response.status).toBe(201);
    }
    expect(await todosOf(stack, ann.id)).toBe(100);
    const deleted = await stack.auth.client.DELETE('/auth/me', {
      body: { password: ann.password },
      headers: bearer(ann.accessToken),
    });
    expect(deleted.response.status).toBe(204);
    await vi.waitFor(async () => expect(await todosOf(stack, ann.id)).toBe(0), {
      timeout: 2_000,
      message: "the deleted user's todos to be gone",
    });
    const gone = await vi.waitFor(
      async () => {
        const events = (await todoEvents(stack)).filter((e) => e.type === 'todo.deleted' && e.data.ownerId === ann.id);
        expect(events.length).toBeGreaterThanOrEqual(100);
        return events;
      },
      { timeout: 5_000, message: 'a todo.deleted per todo' },
    );
    expect(gone).toHaveLength(100);
    expect(new Set(gone.map((e) => e.data.reason))).toEqual(new Set(['owner_deleted']));
  });

  it('the same auth.user.deleted delivered three times deletes the todos once and raises no error', async () => {
    const ann = await stack.auth.newUser();
    for (const title of ['a', 'b', 'c']) {
      await stack.client.POST('/todos', { body: { title }, headers: bearer(ann.accessToken) });
    }
    const before = await stack.ops.get('/metrics');
    const event = JSON.stringify(userDeleted(ann.id));
    // No message id: JetStream stores three copies, as after a redelivery or a replay past its duplicate window.
    for (let i = 0; i < 3; i++) await publishRaw(natsUrl(), subjectIn(stack, USER_DELETED), event);

    await consumerDrained(stack, FORGETTER, natsUrl());
    expect(await todosOf(stack, ann.id)).toBe(0);
    await vi.waitFor(async () => expect(await unpublishedTodoEvents(stack)).toBe(0), {
      timeout: 5_000,
      message: 'the outbox to empty',
    });
    const deletions = (await todoEvents(stack)).filter((e) => e.type === 'todo.deleted' && e.data.ownerId === ann.id);
    expect(deletions).toHaveLength(3);

    const after = (await stack.ops.get('/metrics')).text;
    const labels = { consumer: FORGETTER };
    expect(metric(after, 'events_applied_total', labels) - metric(before.text, 'events_applied_total', labels)).toBe(3);
    expect(metric(after, 'event_handling_failures_total', labels)).toBe(0);
    expect(metric(after, 'event_dead_letters_total', labels)).toBe(0);
  });

  it('a malformed auth.user.deleted goes to the dead letters with its reason, and the next one is applied', async () => {
    const ann = await stack.auth.newUser();
    await stack.client.POST('/todos', { body: { title: 'doomed' }, headers: bearer(ann.accessToken) });
    const broken = authEvent(USER_DELETED, ann.id, { userId: 'not-a-uuid', deletedAt: 1, tokensExpireBy: 2 });
    const brokenSeq = await publishRaw(natsUrl(), subjectIn(stack, USER_DELETED), JSON.stringify(broken), {
      headers: { 'X-Origin': 'a faulty producer' },
    });
    await publishRaw(natsUrl(), subjectIn(stack, USER_DELETED), JSON.stringify(userDeleted(ann.id)));

    await vi.waitFor(async () => expect(await todosOf(stack, ann.id)).toBe(0), {
      timeout: 5_000,
      message: 'the valid event to be applied',
    });
    // Both the durable consumer and the revocation follower refuse it, in either order: one dead letter each.
    const { letters, byConsumer } = await deadLettersOf(brokenSeq, [FORGETTER, REVOCATIONS]);
    expect(letters.map((m) => m.headers['Dead-Letter-Consumer']?.[0]).sort()).toEqual([FORGETTER, REVOCATIONS].sort());
    for (const letter of [byConsumer.get(FORGETTER), byConsumer.get(REVOCATIONS)]) {
      expect(letter?.subject).toBe(subjectIn(stack, `deadletter.todo.${USER_DELETED}`));
      expect(letter?.headers['Dead-Letter-Reason']?.[0]).toMatch(/userId/);
      expect(letter?.headers['X-Origin']).toEqual(['a faulty producer']);
      expect(letter?.body).toEqual(broken);
    }
    await consumerDrained(stack, FORGETTER, natsUrl());
  });

  it('a revocation that is not even JSON goes to the dead letters, and the next logout still bites', async () => {
    const ann = await stack.auth.newUser();
    const seq = await publishRaw(natsUrl(), subjectIn(stack, SESSION_REVOKED), '{"specversion": "1.0", oops');
    const asAnn = { headers: bearer(ann.accessToken) };
    expect((await stack.auth.client.POST('/auth/logout', asAnn)).response.status).toBe(204);
    await vi.waitFor(async () => expect((await stack.client.GET('/todos', asAnn)).response.status).toBe(401), {
      timeout: 2_000,
      message: 'the logged-out token to be refused',
    });
    const { letters, byConsumer } = await deadLettersOf(seq, [REVOCATIONS]);
    expect(letters).toHaveLength(1);
    expect(byConsumer.get(REVOCATIONS)?.headers['Dead-Letter-Reason']?.[0]).toMatch(/not JSON/);
    expect(byConsumer.get(REVOCATIONS)?.subject).toBe(subjectIn(stack, `deadletter.todo.${SESSION_REVOKED}`));
  });
});
