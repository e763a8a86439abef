import { randomUUID } from 'node:crypto';
import { authService } from '@todo/auth-service/definition';
import { USER_DELETED } from '@todo/platform/events';
import {
  bearer,
  metric,
  migrationOf,
  publishRaw,
  startPostgresCluster,
  type TestDatabase,
  type TestPostgresCluster,
} from '@todo/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { todoService } from '../src/definition.ts';
import { consumerDrained, subjectIn, todosOf, userDeleted } from './support/events.ts';
import { type Stack, startStack } from './support/stack.ts';

const FORGETTER = 'todo-forget-deleted-users';

/** A database on a PostgreSQL cluster of this file's own, migrated like a fresh deployment. */
async function databaseOn(cluster: TestPostgresCluster): Promise<TestDatabase> {
  const name = 'todo_platform';
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = cluster.url.replace(/\/postgres$/, `/${name}`);
  await migrationOf(authService)(url);
  await migrationOf(todoService)(url);
  return { url, directUrl: url, name, drop: () => cluster.close() };
}

describe('an account deletion that arrives while the database is down is applied once it is back', () => {
  let cluster: TestPostgresCluster;
  let stack: Stack;
  beforeAll(async () => {
    cluster = await startPostgresCluster();
    stack = await startStack({ database: await databaseOn(cluster) });
  });
  afterAll(async () => {
    await stack?.stop();
    await cluster?.close();
  });

  it('retries while PostgreSQL is stopped, never drops the event, and deletes the todos when it returns', async () => {
    const ann = await stack.auth.newUser({ email: `outage-${randomUUID()}@example.com` });
    for (const title of ['one', 'two']) {
      const created = await stack.client.POST('/todos', { body: { title }, headers: bearer(ann.accessToken) });
      expect(created.response.status).toBe(201);
    }

    await cluster.stop({ mode: 'immediate' });
    await publishRaw(stack.todoConfig.NATS_URL, subjectIn(stack, USER_DELETED), JSON.stringify(userDeleted(ann.id)));
    // The consumer got it, failed to apply it, and will try again: a metric says so (readiness too: the
    // database check fails while it is away).
    await vi.waitFor(
      async () =>
        expect(
          metric((await stack.ops.get('/metrics')).text, 'event_handling_failures_total', { consumer: FORGETTER }),
        ).toBeGreaterThanOrEqual(2),
      { timeout: 15_000, message: 'the consumer to fail and retry while the database is down' },
    );
    expect((await stack.ops.get('/readyz')).status).toBe(503);

    await cluster.start();
    await vi.waitFor(async () => expect(await todosOf(stack, ann.id)).toBe(0), {
      timeout: 20_000,
      message: 'the todos to be deleted once the database is back',
    });
    await consumerDrained(stack, FORGETTER, stack.todoConfig.NATS_URL);
    expect(metric((await stack.ops.get('/metrics')).text, 'events_applied_total', { consumer: FORGETTER })).toBe(1);
  });

  it('gets every pooled connection back: none is left checked out by a transaction the outage broke', async () => {
    // Kysely before 0.29.9 kept the connection of a transaction whose COMMIT or ROLLBACK failed: each
    // database blip leaked pool slots until every request waited for ever (and shutdown hung).
    for (const ops of [stack.ops, stack.auth.ops]) {
      await vi.waitFor(
        async () => expect(metric((await ops.get('/metrics')).text, 'db_pool_connections', { state: 'busy' })).toBe(0),
        {
          timeout: 5_000,
          message: 'no pooled connection to stay checked out',
        },
      );
    }
  });
});
