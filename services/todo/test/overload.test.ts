import { connect, type Socket } from 'node:net';
import { bearer, metric, type TestUser } from '@todo/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

const POOL_MAX = 2;
const ACQUIRE_MS = 1_000;
const MAX_WAITING = 4;
const HEADERS_MS = 500;
const REQUEST_MS = 1_500;
/** Far above every bound here, far below "waits for ever": how late an answer may be on a busy test machine. */
const SLACK_MS = 5_000;

const BUSY = 'tag:todo-platform,2026:problems/database-busy';

/** Holds the todos table locked in a transaction of the test's own: every query on it blocks, connection and all. */
async function lockTodos(stack: Stack): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: stack.auth.database.url });
  await client.connect();
  await client.query('begin');
  await client.query('lock table todo.todos in access exclusive mode');
  return {
    async release() {
      await client.query('commit');
      await client.end();
    },
  };
}

/** Waits until `n` of the todo service's connections are blocked on the lock: the whole pool is checked out. */
async function poolHeldByLock(stack: Stack, n: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const [row] = await stack.auth.sql(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and application_name = 'todo' and wait_event_type = 'Lock'`,
      );
      expect(row?.n).toBe(n);
    },
    { timeout: 10_000, message: `${n} pooled connections to block on the lock` },
  );
}

const refusedCheckouts = async (stack: Stack, reason: 'timeout' | 'queue_full') =>
  metric((await stack.ops.get('/metrics')).text, 'db_pool_checkouts_refused_total', { reason });

function expectBusy({ error, response }: { error?: unknown; response: Response }): void {
  expect(response.status).toBe(503);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(error).toMatchObject({ type: BUSY, status: 503 });
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

describe('an overloaded todo service fails fast instead of queueing without bound', () => {
  let stack: Stack;
  let ann: TestUser;
  beforeAll(async () => {
    stack = await startStack({
      todoEnv: {
        DATABASE_POOL_MAX: String(POOL_MAX),
        DATABASE_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_MS),
        DATABASE_POOL_MAX_WAITING: String(MAX_WAITING),
        HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
        HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      },
    });
    ann = await stack.auth.newUser();
    const first = await stack.client.POST('/todos', {
      body: { title: 'before the rush' },
      headers: bearer(ann.accessToken),
    });
    expect(first.response.status).toBe(201);
  });
  afterAll(() => stack?.stop());

  const list = () => stack.client.GET('/todos', { headers: bearer(ann.accessToken) });
  const create = (title: string) => stack.client.POST('/todos', { body: { title }, headers: bearer(ann.accessToken) });

  it('with every connection busy, more requests wait at most the acquire timeout, then get 503 database-busy and change nothing', async () => {
    const before = await refusedCheckouts(stack, 'timeout');
    const lock = await lockTodos(stack);
    let refusals = 0;
    let finished = 0;
    const held = [list(), list()].map((p) => p.finally(() => finished++));
    try {
      await poolHeldByLock(stack, POOL_MAX);
      // A busy pool is load, not an unreachable database: the replica stays in the load balancer.
      const ready = await stack.ops.get<{ checks: Record<string, string> }>('/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toEqual({ database: 'ok' });

      const started = Date.now();
      const extra = await Promise.all([list(), list(), create('during the rush')]);
      refusals = extra.length;
      expect(Date.now() - started).toBeLessThan(ACQUIRE_MS + SLACK_MS);
      for (const answer of extra) expectBusy(answer);
      // Answered while the lock is still held: the refusals did not wait for the pool to free up.
      expect(finished).toBe(0);
    } finally {
      await lock.release();
    }

    // The requests that held the connections were only slow: they finish once the lock is gone.
    for (const answer of await Promise.all(held)) {
      expect(answer.response.status).toBe(200);
      expect(answer.data?.items.map((t) => t.title)).toEqual(['before the rush']);
    }
    // The refused write did nothing: no todo, no event.
    expect((await list()).data?.items.map((t) => t.title)).toEqual(['before the rush']);
    const [events] = await stack.auth.sql("select count(*)::int as n from todo.outbox where type = 'todo.created'");
    expect(events?.n).toBe(1);
    // Each refusal is counted (the outbox relay's own refused checkouts may add to it).
    expect((await refusedCheckouts(stack, 'timeout')) - before).toBeGreaterThanOrEqual(refusals);
  });

  it(`with ${MAX_WAITING} requests already waiting, the next ones are refused at once`, async () => {
    const before = await refusedCheckouts(stack, 'queue_full');
    const lock = await lockTodos(stack);
    const held = [list(), list()];
    try {
      await poolHeldByLock(stack, POOL_MAX);
      const extra = await Promise.all(Array.from({ length: MAX_WAITING + 4 }, () => list()));
      for (const answer of extra) expectBusy(answer);
    } finally {
      await lock.release();
    }
    for (const answer of await Promise.all(held)) expect(answer.response.status).toBe(200);
    // At most MAX_WAITING of them could wait; the rest never joined the queue.
    expect((await refusedCheckouts(stack, 'queue_full')) - before).toBeGreaterThanOrEqual(4);
    await vi.waitFor(
      async () =>
        expect(metric((await stack.ops.get('/metrics')).text, 'db_pool_connections', { state: 'waiting' })).toBe(0),
      { timeout: 5_000, message: 'the queue to empty' },
    );
  });
});

/** A raw connection to the todo API that records what the server sends and when it hangs up. */
function rawClient(stack: Stack): { socket: Socket; received: () => string; closedAfterMs: () => number | undefined } {
  const started = Date.now();
  const socket = connect(Number(new URL(stack.todo.url).port), '127.0.0.1');
  let text = '';
  let closedAt: number | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closedAt = Date.now();
  });
  return {
    socket,
    received: () => text,
    closedAfterMs: () => (closedAt === undefined ? undefined : closedAt - started),
  };
}

describe('a slow client is cut off instead of holding a connection open', () => {
  let stack: Stack;
  let ann: TestUser;
  beforeAll(async () => {
    stack = await startStack({
      todoEnv: { HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS) },
    });
    ann = await stack.auth.newUser();
  });
  afterAll(() => stack?.stop());

  it('one that sends half a request head and stalls gets 408 and is disconnected after the headers timeout', async () => {
    const client = rawClient(stack);
    client.socket.write('GET /todos HTTP/1.1\r\nHost: todo.test\r\nAccept: application/json\r\n');
    await vi.waitFor(() => expect(client.closedAfterMs()).toBeDefined(), {
      timeout: HEADERS_MS + SLACK_MS,
      message: 'the server to hang up on a stalled request head',
    });
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.closedAfterMs()).toBeGreaterThanOrEqual(HEADERS_MS);
  });

  it('one that sends its headers but trickles its body is cut off after the request timeout', async () => {
    const client = rawClient(stack);
    client.socket.write(
      [
        'POST /todos HTTP/1.1',
        'Host: todo.test',
        `Authorization: Bearer ${ann.accessToken}`,
        'Content-Type: application/json',
        'Content-Length: 1000',
        '',
        '{"title":"',
      ].join('\r\n'),
    );
    // A byte now and then: never idle long, never done.
    const trickle = setInterval(() => client.socket.write('a'), 100);
    client.socket.on('close', () => clearInterval(trickle));
    try {
      await vi.waitFor(() => expect(client.closedAfterMs()).toBeDefined(), {
        timeout: REQUEST_MS + SLACK_MS,
        message: 'the server to hang up on a trickled body',
      });
    } finally {
      clearInterval(trickle);
    }
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    // Cut by the request timeout, which counts from the request's start, not by the headers timeout.
    expect(client.closedAfterMs()).toBeGreaterThanOrEqual(REQUEST_MS);
    expect((await stack.client.GET('/todos', { headers: bearer(ann.accessToken) })).data?.items).toEqual([]);
  });
});
