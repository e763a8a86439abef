import { randomUUID } from 'node:crypto';
import type { TestUser } from '@todo/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TodoView as Todo } from '../src/domain/todo-view.ts';
import { type Stack, startStack } from './support/stack.ts';

describe('retries and races: idempotent creates and optimistic concurrency', () => {
  let stack: Stack;
  let user: TestUser;
  beforeAll(async () => {
    stack = await startStack({ todoEnv: { IDEMPOTENCY_WAIT_MS: '1000' } });
    user = await stack.auth.newUser();
  });
  afterAll(() => stack?.stop());

  const countTodos = async (ownerId: string) =>
    (await stack.auth.sql('select count(*)::int as n from todo.todos where owner_id = $1', [ownerId]))[0]?.n as number;

  it('the same Idempotency-Key fired 20 times at once creates exactly one todo, and every response carries its id', async () => {
    const someone = await stack.auth.newUser();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        stack.api.post<Todo>(
          '/todos',
          { title: 'Exactly once' },
          { token: someone.accessToken, headers: { 'idempotency-key': `"${key}"` } },
        ),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(new Set(responses.map((r) => r.headers.get('location'))).size).toBe(1);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect(await countTodos(someone.id)).toBe(1);
  });

  it('a retry with the same key and body replays the first response, even after the todo changed', async () => {
    const key = `retry-${randomUUID()}`;
    const first = await stack.api.post<Todo>(
      '/todos',
      { title: 'Retry me', done: false },
      { token: user.accessToken, headers: { 'idempotency-key': key } },
    );
    await stack.api.patch(`/todos/${first.body.id}`, { title: 'Changed since' }, { token: user.accessToken });
    // Same body with its keys in another order: still the same request.
    const retry = await stack.api.post<Todo>(
      '/todos',
      { done: false, title: 'Retry me' },
      { token: user.accessToken, headers: { 'idempotency-key': key } },
    );
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('etag')).toBe(first.headers.get('etag'));
  });

  it('the same key with a different body is a 422, and creates nothing', async () => {
    const key = `mismatch-${randomUUID()}`;
    await stack.api.post(
      '/todos',
      { title: 'Original' },
      { token: user.accessToken, headers: { 'idempotency-key': key } },
    );
    const before = await countTodos(user.id);
    const other = await stack.api.post(
      '/todos',
      { title: 'Something else' },
      { token: user.accessToken, headers: { 'idempotency-key': key } },
    );
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ type: expect.stringMatching(/idempotency-key-mismatch$/) });
    expect(await countTodos(user.id)).toBe(before);
  });

  it('keys are per user: another user with the same key gets their own todo', async () => {
    const key = `shared-${randomUUID()}`;
    const other = await stack.auth.newUser();
    const mine = await stack.api.post<Todo>(
      '/todos',
      { title: 'Same key' },
      { token: user.accessToken, headers: { 'idempotency-key': key } },
    );
    const theirs = await stack.api.post<Todo>(
      '/todos',
      { title: 'Same key' },
      { token: other.accessToken, headers: { 'idempotency-key': key } },
    );
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
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
      const res = await stack.api.post(
        '/todos',
        { title: 'Too soon' },
        { token: user.accessToken, headers: { 'idempotency-key': key } },
      );
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ type: expect.stringMatching(/idempotency-key-in-use$/) });
    } finally {
      await held.query('rollback');
      await held.end();
    }
    const after = await stack.api.post(
      '/todos',
      { title: 'Now' },
      { token: user.accessToken, headers: { 'idempotency-key': key } },
    );
    expect(after.status).toBe(201);
  });

  it('a plain UUID that starts with a digit is a key as it is: the retry replays the first response', async () => {
    const key = `8${randomUUID().slice(1)}`;
    const send = () =>
      stack.api.post<Todo>(
        '/todos',
        { title: 'Digit first' },
        { token: user.accessToken, headers: { 'idempotency-key': key } },
      );
    const before = await countTodos(user.id);
    const first = await send();
    const retry = await send();
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await countTodos(user.id)).toBe(before + 1);
  });

  it('"k" and k are the same key: the sf-string spelling replays what the bare one created', async () => {
    // A quote inside: bare as it is, escaped in the sf-string.
    const key = `0"${randomUUID()}`;
    const sfString = `"${key.replaceAll('"', '\\"')}"`;
    const send = (spelling: string) =>
      stack.api.post<Todo>(
        '/todos',
        { title: 'Two spellings' },
        { token: user.accessToken, headers: { 'idempotency-key': spelling } },
      );
    const before = await countTodos(user.id);
    const bare = await send(key);
    const quoted = await send(sfString);
    expect(bare.status).toBe(201);
    expect(quoted.status).toBe(201);
    expect(quoted.headers.get('idempotent-replayed')).toBe('true');
    expect(quoted.body).toEqual(bare.body);
    expect(quoted.headers.get('location')).toBe(bare.headers.get('location'));
    expect(await countTodos(user.id)).toBe(before + 1);
  });

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

  it('50 concurrent PATCHes with the same current If-Match: exactly one wins, 49 get 412', async () => {
    const { body: todo } = await stack.api.post<Todo>('/todos', { title: 'Race' }, { token: user.accessToken });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stack.api.patch<Todo>(
          `/todos/${todo.id}`,
          { title: `Writer ${i}` },
          { token: user.accessToken, headers: { 'if-match': '"v1"' } },
        ),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(49);
    const winner = results.find((r) => r.status === 200);
    const now = await stack.api.get<Todo>(`/todos/${todo.id}`, { token: user.accessToken });
    expect(now.body).toMatchObject({ version: 2, title: winner?.body.title });
  });

  it('50 concurrent PATCHes without If-Match all apply and the version advances by exactly 50', async () => {
    const { body: todo } = await stack.api.post<Todo>('/todos', { title: 'Counter' }, { token: user.accessToken });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stack.api.patch<Todo>(`/todos/${todo.id}`, { done: i % 2 === 0 }, { token: user.accessToken }),
      ),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.body.version)).size).toBe(50);
    const now = await stack.api.get<Todo>(`/todos/${todo.id}`, { token: user.accessToken });
    expect(now.body.version).toBe(51);
  });
});
