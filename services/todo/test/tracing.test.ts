/**
 * One trace runs from `DELETE /auth/me` through the auth service's outbox and NATS to the todo service
 * deleting the user's todos, and on to the `todo.deleted` events that deletion publishes. Tracing patches
 * http, koa and pg for the whole process, so this file traces in a worker of its own (the forks pool starts a
 * process per test file; every other file runs untraced) and starts tracing before the services' modules are
 * first imported: hence the dynamic imports below.
 */
import { type ReadableSpan, SpanKind, traceInMemory } from '@todo/platform/telemetry';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Stack } from './support/stack.ts';

const tracing = traceInMemory();
const { bearer } = await import('@todo/testkit');
const { todosOf } = await import('./support/events.ts');
const { startStack } = await import('./support/stack.ts');

const FORGETTER = 'todo-forget-deleted-users';
const REVOCATIONS = 'todo-revocations';

/** The spans of one trace, with what a test asks of their tree. */
function traceOf(root: ReadableSpan) {
  const spans = tracing.spans().filter((s) => s.spanContext().traceId === root.spanContext().traceId);
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? '');
  const isUnder = (span: ReadableSpan, ancestor: ReadableSpan): boolean => {
    for (let up = parentOf(span); up; up = parentOf(up)) if (up === ancestor) return true;
    return false;
  };
  const sql = (pattern: RegExp) =>
    spans.filter((s) => s.kind === SpanKind.CLIENT && pattern.test(String(s.attributes['db.query.text'] ?? '')));
  return { spans, parentOf, isUnder, sql };
}

const named = (spans: ReadableSpan[], kind: SpanKind, name: string) =>
  spans.filter((s) => s.kind === kind && s.name === name);

describe('when Ann deletes her account, one trace runs from DELETE /auth/me through NATS to her todos', () => {
  let stack: Stack;
  let ann: Awaited<ReturnType<Stack['auth']['newUser']>>;
  let request: ReadableSpan;
  beforeAll(async () => {
    stack = await startStack({ captureLogs: true });
    ann = await stack.auth.newUser();
    for (const title of ['Water the plants', 'Call Grandma']) {
      const created = await stack.client.POST('/todos', { body: { title }, headers: bearer(ann.accessToken) });
      expect(created.response.status).toBe(201);
    }
    const deleted = await stack.auth.client.DELETE('/auth/me', {
      body: { password: ann.password },
      headers: bearer(ann.accessToken),
    });
    expect(deleted.response.status).toBe(204);
    await vi.waitFor(async () => expect(await todosOf(stack, ann.id)).toBe(0), {
      timeout: 10_000,
      message: "the deleted user's todos to be gone",
    });
    const server = tracing.spans().find((s) => s.kind === SpanKind.SERVER && s.name === 'DELETE /auth/me');
    if (!server) throw new Error('no server span for DELETE /auth/me');
    request = server;
  });
  afterAll(async () => {
    await stack?.stop();
    await tracing.shutdown();
  });

  it('the request, its outbox write, the publish, the consumer, its SQL and its own events form one tree', async () => {
    expect(request.attributes['http.route']).toBe('/auth/me');
    // The relay publishes the todo.deleted events after the deletion committed, and the revocation feed polls.
    const { spans, parentOf, isUnder, sql } = await vi.waitFor(
      () => {
        const found = traceOf(request);
        expect(named(found.spans, SpanKind.PRODUCER, 'send todo.deleted')).toHaveLength(2);
        expect(named(found.spans, SpanKind.CONSUMER, 'process auth.user.deleted')).toHaveLength(2);
        return found;
      },
      { timeout: 10_000, message: 'the todo.deleted events to be published and both consumers to be done' },
    );

    // auth: the request writes auth.user.deleted to its outbox, and the relay publishes it under the request.
    const [outboxWrite, ...moreWrites] = sql(/^insert into "auth"\."outbox"/);
    if (!outboxWrite) throw new Error('no insert into auth.outbox in the trace');
    expect(moreWrites).toEqual([]);
    expect(isUnder(outboxWrite, request)).toBe(true);
    const [publish, ...republished] = named(spans, SpanKind.PRODUCER, 'send auth.user.deleted');
    if (!publish) throw new Error('no publish span for auth.user.deleted');
    expect(republished).toEqual([]);
    expect(isUnder(publish, request)).toBe(true);

    // todo: the durable consumer handles it as a child of the publish span (and so does the revocation feed)...
    const consumers = named(spans, SpanKind.CONSUMER, 'process auth.user.deleted');
    const forgetter = consumers.find((s) => s.attributes['messaging.consumer.group.name'] === FORGETTER);
    if (!forgetter) throw new Error(`no ${FORGETTER} span in the trace`);
    expect(consumers.map((s) => s.attributes['messaging.consumer.group.name']).sort()).toEqual([
      FORGETTER,
      REVOCATIONS,
    ]);
    expect(consumers.every((s) => parentOf(s) === publish)).toBe(true);

    // ...deletes the todos in SQL, writes a todo.deleted per todo to its outbox and publishes them, all under it.
    const [deletion] = sql(/^delete from todo\.todos/);
    if (!deletion) throw new Error('no delete from todo.todos in the trace');
    expect(isUnder(deletion, forgetter)).toBe(true);
    const todoOutboxWrites = sql(/^insert into "todo"\."outbox"/);
    expect(todoOutboxWrites.length).toBeGreaterThan(0);
    expect(todoOutboxWrites.every((s) => isUnder(s, forgetter))).toBe(true);
    const todoPublishes = named(spans, SpanKind.PRODUCER, 'send todo.deleted');
    expect(todoPublishes.every((s) => isUnder(s, forgetter))).toBe(true);

    const chain = [request, outboxWrite, publish, forgetter, deletion, ...todoOutboxWrites, ...todoPublishes];
    expect(new Set(chain.map((s) => s.spanContext().traceId))).toEqual(new Set([request.spanContext().traceId]));
  });

  it('SQL is recorded without its values: nothing Ann wrote or is known by appears in any span', () => {
    const recorded = JSON.stringify(traceOf(request).spans.map((s) => s.attributes));
    expect(recorded).toMatch(/delete from todo\.todos where owner_id = \?/);
    for (const secret of [ann.id, ann.email, 'Water the plants']) expect(recorded).not.toContain(secret);
  });

  it('the log lines written while handling it carry its trace id, in both services', () => {
    const { traceId } = request.spanContext();
    const accessLog = stack.logs.auth.lines.find(
      (l) => l.msg === 'request' && l.method === 'DELETE' && l.route === '/auth/me',
    );
    expect(accessLog).toMatchObject({ trace_id: traceId, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    const forgotten = stack.logs.todo.lines.find((l) => l.msg === 'deleted the todos of a deleted user');
    expect(forgotten).toMatchObject({ trace_id: traceId, removed: 2 });
    // A line written outside any span has no trace id rather than someone else's.
    expect(stack.logs.todo.lines.some((l) => !('trace_id' in l))).toBe(true);
  });
});
