import { randomUUID } from 'node:crypto';
import { bearer, dataOf, type TestUser, type Todo } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

interface Answer {
  data?: unknown;
  error?: unknown;
  response: Response;
}
/** The body of a typed client's answer as it came over the wire (parsed, so serialised again). */
const textOf = ({ data, error }: Answer) => JSON.stringify(error ?? data) ?? '';
/** Everything of a response that could carry information, without the per-request id. */
const visible = ({ data, error, response }: Answer) => ({
  status: response.status,
  body: { ...((error ?? data) as object), requestId: undefined },
  etag: response.headers.get('etag'),
  location: response.headers.get('location'),
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
      annsTodos.push(dataOf(await stack.client.POST('/todos', { body, headers: bearer(ann.accessToken) })));
    }
    const asBob = { headers: bearer(bob.accessToken) };
    bobsTodo = dataOf(await stack.client.POST('/todos', { body: { title: "Bob's own" }, ...asBob }));
    const doomed = dataOf(await stack.client.POST('/todos', { body: { title: 'gone soon' }, ...asBob }));
    await stack.client.DELETE('/todos/{id}', { params: { path: { id: doomed.id } }, ...asBob });
    deletedId = doomed.id;
  });
  afterAll(() => stack?.stop());

  /** Every route Bob could aim at an id, with and without preconditions. */
  const attempts = (id: string): (() => Promise<Answer>)[] => {
    const as = (header: { 'If-None-Match'?: string; 'If-Match'?: string } = {}) => ({
      params: { path: { id }, header },
      headers: bearer(bob.accessToken),
    });
    return [
      () => stack.client.GET('/todos/{id}', as()),
      () => stack.client.GET('/todos/{id}', as({ 'If-None-Match': '"v1"' })),
      () => stack.client.GET('/todos/{id}', as({ 'If-None-Match': '*' })),
      () => stack.client.PATCH('/todos/{id}', { ...as(), body: { title: 'hijacked' } }),
      () => stack.client.PATCH('/todos/{id}', { ...as({ 'If-Match': '"v1"' }), body: { done: true } }),
      () => stack.client.PATCH('/todos/{id}', { ...as({ 'If-Match': '"v9"' }), body: { done: true } }),
      () => stack.client.PATCH('/todos/{id}', { ...as(), body: {} }),
      () => stack.client.DELETE('/todos/{id}', as({ 'If-Match': '"v9"' })),
      () => stack.client.DELETE('/todos/{id}', as({ 'If-Match': '"v1"' })),
      () => stack.client.DELETE('/todos/{id}', as()),
    ];
  };

  it("every route on Ann's ids answers Bob exactly as for an id that never existed (or was deleted)", async () => {
    const neverExisted = randomUUID();
    for (const [i, attempt] of attempts(neverExisted).entries()) {
      const baseline = visible(await attempt());
      expect(baseline.status).toBe(404);
      for (const id of [...annsTodos.map((t) => t.id), deletedId]) {
        const res = await attempts(id)[i]?.();
        if (!res) throw new Error('missing attempt');
        expect(visible(res), `attempt ${i} on ${id}`).toEqual(baseline);
        expect(textOf(res)).not.toContain(id);
        expect(textOf(res)).not.toMatch(/secret|Ann/);
      }
    }
  });

  it("Ann's todos are untouched by all of that", async () => {
    for (const todo of annsTodos) {
      const res = await stack.client.GET('/todos/{id}', {
        params: { path: { id: todo.id } },
        headers: bearer(ann.accessToken),
      });
      expect(res.response.status).toBe(200);
      expect(res.data).toEqual(todo);
    }
  });

  it("no list Bob can ask for shows anything of Ann's", async () => {
    const queries = [
      {},
      { sort: 'createdAt' },
      { sort: 'dueAt' },
      { sort: '-dueAt' },
      { done: true },
      { q: 'secret' },
      { q: 'Ann' },
      { dueAfter: '2000-01-01T00:00:00Z' },
      { limit: 100 },
    ] as const;
    for (const query of queries) {
      const res = await stack.client.GET('/todos', { params: { query }, headers: bearer(bob.accessToken) });
      expect(res.response.status).toBe(200);
      for (const todo of res.data?.items ?? []) expect(todo.id).toBe(bobsTodo.id);
      for (const mine of annsTodos) expect(textOf(res)).not.toContain(mine.id);
    }
  });

  it("a cursor from Ann's listing does not page into Ann's todos for Bob", async () => {
    const annPage = dataOf(
      await stack.client.GET('/todos', { params: { query: { limit: 1 } }, headers: bearer(ann.accessToken) }),
    );
    const res = await stack.client.GET('/todos', {
      params: { query: { limit: 1, cursor: annPage.nextCursor ?? '' } },
      headers: bearer(bob.accessToken),
    });
    expect(res.response.status).toBe(200);
    for (const mine of annsTodos) expect(textOf(res)).not.toContain(mine.id);
  });

  it('a malformed id is a 404 like any other, never a validation error that names the id', async () => {
    // Ids no typed client would send as they are (the last one is already percent-encoded): the raw client.
    for (const id of ['not-a-uuid', '1', "x' OR '1'='1", '..%2F..%2Fetc']) {
      const res = await stack.api.get(`/todos/${id}`, { token: ann.accessToken });
      expect(res.status, id).toBe(404);
    }
  });
});
