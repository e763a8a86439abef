import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { bearer, dataOf, type TestUser, type TodoCreate } from '@todo/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

describe('retries and races: idempotent creates and optimistic concurrency', () => {
  let stack: Stack;
  let user: TestUser;
  beforeAll(async () => {
    stack = await startStack({ todoEnv: { IDEMPOTENCY_WAIT_MS: '1000' } });
    user = await stack.auth.newUser();
  });
  afterAll(() => stack?.stop());

  /** A create through the typed client, with the Idempotency-Key the spec declares when `key` is given. */
  const create = (as: TestUser, body: TodoCreate, key?: string) =>
    stack.client.POST('/todos', {
      body,
      headers: bearer(as.accessToken),
      params: { header: key === undefined ? {} : { 'Idempotency-Key': key } },
    });
  const todoOf = (id: string) => ({ params: { path: { id } }, headers: bearer(user.accessToken) });

  const countTodos = async (ownerId: string) =>
    (await stack.auth.sql('select count(*)::int as n from todo.todos where owner_id = $1', [ownerId]))[0]?.n as number;

  it('the same Idempotency-Key fired 20 times at once creates exactly one todo, and every response carries its id', async () => {
    const someone = await stack.auth.newUser();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => create(someone, { title: 'Exactly once' }, `"${key}"`)),
    );
    expect(responses.map((r) => r.response.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => dataOf(r).id)).size).toBe(1);
    expect(new Set(responses.map((r) => r.response.headers.get('location'))).size).toBe(1);
    expect(responses.filter((r) => r.response.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect(await countTodos(someone.id)).toBe(1);
  });

  it('a retry with the same key and body replays the first response, even after the todo changed', async () => {
    const key = `retry-${randomUUID()}`;
    const first = await create(user, { title: 'Retry me', done: false }, key);
    await stack.client.PATCH('/todos/{id}', { ...todoOf(dataOf(first).id), body: { title: 'Changed since' } });
    // Same body with its keys in another order: still the same request.
    const retry = await create(user, { done: false, title: 'Retry me' }, key);
    expect(retry.response.status).toBe(201);
    expect(retry.data).toEqual(first.data);
    expect(retry.response.headers.get('etag')).toBe(first.response.headers.get('etag'));
  });

  it('the same key with a different body is a 422, and creates nothing', async () => {
    const key = `mismatch-${randomUUID()}`;
    await create(user, { title: 'Original' }, key);
    const before = await countTodos(user.id);
    const other = await create(user, { title: 'Something else' }, key);
    expect(other.response.status).toBe(422);
    expect(other.error).toMatchObject({ type: expect.stringMatching(/idempotency-key-mismatch$/) });
    expect(await countTodos(user.id)).toBe(before);
  });

  it('keys are per user: another user with the same key gets their own todo', async () => {
    const key = `shared-${randomUUID()}`;
    const other = await stack.auth.newUser();
    const mine = await create(user, { title: 'Same key' }, key);
    const theirs = await create(other, { title: 'Same key' }, key);
    expect(theirs.response.status).toBe(201);
    expect(dataOf(theirs).id).not.toBe(dataOf(mine).id);
    expect(theirs.response.headers.get('idempotent-replayed')).toBeNull();
  });

  it('while the first request with a key is still running, the same key gets a 409', async () => {
    const key = `slow-${randomUUID()}`;
    // Play the first request: claim the key in a transaction that has not finished.
    const held = new pg.Client({ connectionString: stack.auth.database.url });
    await held.connect();
    try {
      await held.query('begin');
      await held.query(
        `insert into todo.idempotency_keys (owner_id, key, request_hash, created_at, expires_at) values ($1, $2, 'x', now(), now() + interval '1 day')`,
        [user.id, key],
      );
      const res = await create(user, { title: 'Too soon' }, key);
      expect(res.response.status).toBe(409);
      expect(res.error).toMatchObject({ type: expect.stringMatching(/idempotency-key-in-use$/) });
    } finally {
      await held.query('rollback');
      await held.end();
    }
    const after = await create(user, { title: 'Now' }, key);
    expect(after.response.status).toBe(201);
  });

  it('a plain UUID that starts with a digit is a key as it is: the retry replays the first response', async () => {
    const key = `8${randomUUID().slice(1)}`;
    const send = () => create(user, { title: 'Digit first' }, key);
    const before = await countTodos(user.id);
    const first = await send();
    const retry = await send();
    expect(first.response.status).toBe(201);
    expect(retry.response.status).toBe(201);
    expect(retry.response.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.data).toEqual(first.data);
    expect(await countTodos(user.id)).toBe(before + 1);
  });

  it('"k" and k are the same key: the sf-string spelling replays what the bare one created', async () => {
    // A quote inside: bare as it is, escaped in the sf-string.
    const key = `0"${randomUUID()}`;
    const sfString = `"${key.replaceAll('"', '\\"')}"`;
    const send = (spelling: string) => create(user, { title: 'Two spellings' }, spelling);
    const before = await countTodos(user.id);
    const bare = await send(key);
    const quoted = await send(sfString);
    expect(bare.response.status).toBe(201);
    expect(quoted.response.status).toBe(201);
    expect(quoted.response.headers.get('idempotent-replayed')).toBe('true');
    expect(quoted.data).toEqual(bare.data);
    expect(quoted.response.headers.get('location')).toBe(bare.response.headers.get('location'));
    expect(await countTodos(user.id)).toBe(before + 1);
  });

  // Keys the spec's pattern (or length) refuses: malformed on purpose, so they go through the untyped client.
  it.each([
    ['a control character', 'tab\there', /must not contain control characters/],
    ['a non-ASCII character', 'cl\u00e9', /must be ASCII/],
    ['an empty value', '', /must not be empty/],
    ['an empty sf-string', '""', /must not be empty/],
    ['256 characters', 'k'.repeat(256), /256 characters long: at most 255/],
    ['256 characters in an sf-string', `"${'k'.repeat(256)}"`, /256 characters long: at most 255/],
    ['an unterminated sf-string', '"abc', /not a valid sf-string/],
    ['an sf-string with an escape RFC 8941 does not have', '"a\\nb"', /not a valid sf-string/],
  ])('an Idempotency-Key with %s is a 422 that says so, and creates nothing', async (_, value, problem) => {
    const before = await countTodos(user.id);
    const res = await stack.api.post<{ errors: { header: string; detail: string }[] }>(
      '/todos',
      { title: 'Refused' },
      { token: user.accessToken, headers: { 'idempotency-key': value } },
    );
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ header: 'Idempotency-Key', detail: expect.stringMatching(problem) }]);
    expect(res.text).not.toContain('kkkk');
    expect(await countTodos(user.id)).toBe(before);
  });

  it('an Idempotency-Key sent twice is a 422 that says so, not the two values read as one key', async () => {
    const before = await countTodos(user.id);
    // Two field lines, as fetch cannot send them: node:http with raw headers.
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${stack.todo.url}/todos`, {
        method: 'POST',
        // With raw headers Node sends only these: Host too, which HTTP/1.1 requires.
        headers: [
          'Host',
          new URL(stack.todo.url).host,
          'Authorization',
          `Bearer ${user.accessToken}`,
          'Content-Type',
          'application/json',
          'Idempotency-Key',
          'first',
          'Idempotency-Key',
          'second',
        ],
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ title: 'Twice keyed' }));
    });
    expect(status).toBe(422);
    expect(JSON.parse(body).errors).toEqual([
      { header: 'Idempotency-Key', detail: expect.stringMatching(/sent 2 times: send it once/) },
    ]);
    expect(await countTodos(user.id)).toBe(before);
  });

  it('50 concurrent PATCHes with the same current If-Match: exactly one wins, 49 get 412', async () => {
    const todo = dataOf(await create(user, { title: 'Race' }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stack.client.PATCH('/todos/{id}', {
          ...todoOf(todo.id),
          params: { path: { id: todo.id }, header: { 'If-Match': '"v1"' } },
          body: { title: `Writer ${i}` },
        }),
      ),
    );
    const statuses = results.map((r) => r.response.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(49);
    const winner = results.find((r) => r.response.status === 200);
    const now = await stack.client.GET('/todos/{id}', todoOf(todo.id));
    expect(now.data).toMatchObject({ version: 2, title: winner?.data?.title });
  });

  it('50 concurrent PATCHes without If-Match all apply and the version advances by exactly 50', async () => {
    const todo = dataOf(await create(user, { title: 'Counter' }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stack.client.PATCH('/todos/{id}', { ...todoOf(todo.id), body: { done: i % 2 === 0 } }),
      ),
    );
    expect(results.every((r) => r.response.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.data?.version)).size).toBe(50);
    const now = await stack.client.GET('/todos/{id}', todoOf(todo.id));
    expect(now.data?.version).toBe(51);
  });
});
