import { randomUUID } from 'node:crypto';
import type { TestResponse, TestUser } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TodoView as Todo } from '../src/domain/todo-view.ts';
import { type Stack, startStack } from './support/stack.ts';

/** Everything of a response that could carry information, without the per-request id. */
const visible = (res: TestResponse) => ({
  status: res.status,
  body: { ...(res.body as object), requestId: undefined },
  etag: res.headers.get('etag'),
  location: res.headers.get('location'),
});

describe("a user's todos are invisible to everyone else", () => {
  let stack: Stack;
  let ann: TestUser;
  let bob: TestUser;
  let annsTodos: Todo[];
  let bobsTodo: Todo;
  let deletedId: string;

  beforeAll(async () => {
    stack = await startStack();
    [ann, bob] = await Promise.all([stack.auth.newUser(), stack.auth.newUser()]);
    annsTodos = [];
    for (const body of [
      { title: "Ann's secret plan", description: 'do not tell Bob', dueAt: '2027-05-01T00:00:00Z' },
      { title: "Ann's second", done: true },
    ]) {
      annsTodos.push((await stack.api.post<Todo>('/todos', body, { token: ann.accessToken })).body);
    }
    bobsTodo = (await stack.api.post<Todo>('/todos', { title: "Bob's own" }, { token: bob.accessToken })).body;
    const doomed = (await stack.api.post<Todo>('/todos', { title: 'gone soon' }, { token: bob.accessToken })).body;
    await stack.api.delete(`/todos/${doomed.id}`, { token: bob.accessToken });
    deletedId = doomed.id;
  });
  afterAll(() => stack?.stop());

  /** Every route Bob could aim at an id, with and without preconditions. */
  const attempts = (id: string) => [
    () => stack.api.get(`/todos/${id}`, { token: bob.accessToken }),
    () => stack.api.get(`/todos/${id}`, { token: bob.accessToken, headers: { 'if-none-match': '"v1"' } }),
    () => stack.api.get(`/todos/${id}`, { token: bob.accessToken, headers: { 'if-none-match': '*' } }),
    () => stack.api.patch(`/todos/${id}`, { title: 'hijacked' }, { token: bob.accessToken }),
    () => stack.api.patch(`/todos/${id}`, { done: true }, { token: bob.accessToken, headers: { 'if-match': '"v1"' } }),
    () => stack.api.patch(`/todos/${id}`, { done: true }, { token: bob.accessToken, headers: { 'if-match': '"v9"' } }),
    () => stack.api.patch(`/todos/${id}`, {}, { token: bob.accessToken }),
    () => stack.api.delete(`/todos/${id}`, { token: bob.accessToken, headers: { 'if-match': '"v9"' } }),
    () => stack.api.delete(`/todos/${id}`, { token: bob.accessToken, headers: { 'if-match': '"v1"' } }),
    () => stack.api.delete(`/todos/${id}`, { token: bob.accessToken }),
  ];

  it("every route on Ann's ids answers Bob exactly as for an id that never existed (or was deleted)", async () => {
    const neverExisted = randomUUID();
    for (const [i, attempt] of attempts(neverExisted).entries()) {
      const baseline = visible(await attempt());
      expect(baseline.status).toBe(404);
      for (const id of [...annsTodos.map((t) => t.id), deletedId]) {
        const res = await attempts(id)[i]?.();
        if (!res) throw new Error('missing attempt');
        expect(visible(res), `attempt ${i} on ${id}`).toEqual(baseline);
        expect(res.text).not.toContain(id);
        expect(res.text).not.toMatch(/secret|Ann/);
      }
    }
  });

  it("Ann's todos are untouched by all of that", async () => {
    for (const todo of annsTodos) {
      const res = await stack.api.get<Todo>(`/todos/${todo.id}`, { token: ann.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(todo);
    }
  });

  it("no list Bob can ask for shows anything of Ann's", async () => {
    const queries = [
      '',
      '?sort=createdAt',
      '?sort=dueAt',
      '?sort=-dueAt',
      '?done=true',
      '?q=secret',
      '?q=Ann',
      '?dueAfter=2000-01-01T00:00:00Z',
      '?limit=100',
    ];
    for (const query of queries) {
      const res = await stack.api.get<{ items: Todo[] }>(`/todos${query}`, { token: bob.accessToken });
      expect(res.status).toBe(200);
      for (const todo of res.body.items) expect(todo.id).toBe(bobsTodo.id);
      for (const mine of annsTodos) expect(res.text).not.toContain(mine.id);
    }
  });

  it("a cursor from Ann's listing does not page into Ann's todos for Bob", async () => {
    const annPage = await stack.api.get<{ nextCursor: string }>('/todos?limit=1', { token: ann.accessToken });
    const res = await stack.api.get<{ items: Todo[] }>(
      `/todos?limit=1&cursor=${encodeURIComponent(annPage.body.nextCursor)}`,
      {
        token: bob.accessToken,
      },
    );
    expect(res.status).toBe(200);
    for (const mine of annsTodos) expect(res.text).not.toContain(mine.id);
  });

  it('a malformed id is a 404 like any other, never a validation error that names the id', async () => {
    for (const id of ['not-a-uuid', '1', "x' OR '1'='1", '..%2F..%2Fetc']) {
      const res = await stack.api.get(`/todos/${id}`, { token: ann.accessToken });
      expect(res.status, id).toBe(404);
    }
  });
});
