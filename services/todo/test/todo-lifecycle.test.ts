import type { TestUser } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TodoView as Todo } from '../src/domain/todo-view.ts';
import { type Stack, startStack } from './support/stack.ts';

describe('a user keeps todos: create, read, change, delete', () => {
  let stack: Stack;
  let ann: TestUser;
  beforeAll(async () => {
    stack = await startStack();
    ann = await stack.auth.newUser();
  });
  afterAll(() => stack?.stop());

  const create = (body: unknown) => stack.api.post<Todo>('/todos', body, { token: ann.accessToken });

  it('creates with every field, answering 201 with Location and an ETag from the version', async () => {
    const res = await create({
      title: 'Renew passport',
      description: 'Photos first',
      done: false,
      dueAt: '2027-01-15T09:00:00+01:00',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      title: 'Renew passport',
      description: 'Photos first',
      done: false,
      dueAt: '2027-01-15T08:00:00.000Z',
      version: 1,
    });
    expect(res.headers.get('location')).toBe(`/todos/${res.body.id}`);
    expect(res.headers.get('etag')).toBe('"v1"');
  });

  it('reads one todo with its ETag, and answers 304 to If-None-Match with the current tag', async () => {
    const { body: todo } = await create({ title: 'Read me' });
    const first = await stack.api.get<Todo>(`/todos/${todo.id}`, { token: ann.accessToken });
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag') ?? '';
    const again = await stack.api.get(`/todos/${todo.id}`, {
      token: ann.accessToken,
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    const weak = await stack.api.get(`/todos/${todo.id}`, {
      token: ann.accessToken,
      headers: { 'if-none-match': `W/${etag}` },
    });
    expect(weak.status).toBe(304);
    const other = await stack.api.get(`/todos/${todo.id}`, {
      token: ann.accessToken,
      headers: { 'if-none-match': '"v99"' },
    });
    expect(other.status).toBe(200);
  });

  it('PATCH is a merge patch: absent fields stay, null clears, the version and ETag advance', async () => {
    const { body: todo } = await create({ title: 'Patch me', description: 'old', dueAt: '2027-02-01T00:00:00Z' });
    const res = await stack.api.patch<Todo>(
      `/todos/${todo.id}`,
      { done: true, description: null },
      { token: ann.accessToken, headers: { 'content-type': 'application/merge-patch+json' } },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      title: 'Patch me',
      description: null,
      done: true,
      dueAt: '2027-02-01T00:00:00.000Z',
      version: 2,
    });
    expect(res.headers.get('etag')).toBe('"v2"');
    expect(new Date(res.body.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(todo.updatedAt).getTime());
    const plainJson = await stack.api.patch<Todo>(`/todos/${todo.id}`, { dueAt: null }, { token: ann.accessToken });
    expect(plainJson.body).toMatchObject({ dueAt: null, version: 3 });
  });

  it('PATCH cannot null a required field, add an unknown one, or blank the title', async () => {
    const { body: todo } = await create({ title: 'Strict' });
    for (const body of [{ title: null }, { done: null }, { colour: 'red' }, { title: '   ' }, { dueAt: 'tomorrow' }]) {
      const res = await stack.api.patch(`/todos/${todo.id}`, body, { token: ann.accessToken });
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    const unchanged = await stack.api.get<Todo>(`/todos/${todo.id}`, { token: ann.accessToken });
    expect(unchanged.body.version).toBe(1);
  });

  it('If-Match with a stale tag is a 412 and nothing changes; with the current tag the write applies', async () => {
    const { body: todo } = await create({ title: 'Contended' });
    await stack.api.patch(`/todos/${todo.id}`, { title: 'Changed elsewhere' }, { token: ann.accessToken });
    const stale = await stack.api.patch(
      `/todos/${todo.id}`,
      { title: 'Mine' },
      { token: ann.accessToken, headers: { 'if-match': '"v1"' } },
    );
    expect(stale.status).toBe(412);
    const current = await stack.api.get<Todo>(`/todos/${todo.id}`, { token: ann.accessToken });
    expect(current.body).toMatchObject({ title: 'Changed elsewhere', version: 2 });
    const fresh = await stack.api.patch<Todo>(
      `/todos/${todo.id}`,
      { title: 'Mine' },
      { token: ann.accessToken, headers: { 'if-match': '"v2"' } },
    );
    expect(fresh.status).toBe(200);
    expect(fresh.body.title).toBe('Mine');
    const weak = await stack.api.patch(
      `/todos/${todo.id}`,
      { title: 'Weak' },
      { token: ann.accessToken, headers: { 'if-match': 'W/"v3"' } },
    );
    expect(weak.status).toBe(412);
  });

  it('DELETE answers 204, then 404; a stale If-Match keeps the todo', async () => {
    const { body: todo } = await create({ title: 'Delete me' });
    const stale = await stack.api.delete(`/todos/${todo.id}`, {
      token: ann.accessToken,
      headers: { 'if-match': '"v7"' },
    });
    expect(stale.status).toBe(412);
    expect(
      (await stack.api.delete(`/todos/${todo.id}`, { token: ann.accessToken, headers: { 'if-match': '"v1"' } })).status,
    ).toBe(204);
    expect((await stack.api.delete(`/todos/${todo.id}`, { token: ann.accessToken })).status).toBe(404);
    expect((await stack.api.get(`/todos/${todo.id}`, { token: ann.accessToken })).status).toBe(404);
    expect((await stack.api.patch(`/todos/${todo.id}`, { done: true }, { token: ann.accessToken })).status).toBe(404);
  });

  it('creating refuses unknown fields, empty titles, NUL bytes, lone surrogates and oversized text with 422', async () => {
    const bad = [
      {},
      { title: '' },
      { title: 'ok', extra: 1 },
      { title: 'a\u0000b' },
      { title: 'broken \ud800 text' },
      { title: 'x'.repeat(501) },
      { title: 'ok', description: 'y'.repeat(10_001) },
      { title: 'ok', dueAt: '2027-01-01' },
      { title: 'ok', done: 'yes' },
    ];
    for (const body of bad) expect((await create(body)).status, JSON.stringify(body).slice(0, 60)).toBe(422);
    expect((await create({ title: '😀'.repeat(500) })).status).toBe(201);
  });
});
