import type { TestUser } from '@todo/auth-service/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

describe("a user's todos are invisible to everyone else", () => {
  let stack: Stack;
  let ann: TestUser;
  let bob: TestUser;
  let annsTodo: { id: string };

  beforeAll(async () => {
    stack = await startStack();
    [ann, bob] = await Promise.all([stack.auth.newUser(), stack.auth.newUser()]);
    const created = await stack.api.post<{ id: string }>(
      '/todos',
      { title: "Ann's secret plan", description: 'do not tell Bob' },
      { token: ann.accessToken },
    );
    expect(created.status).toBe(201);
    annsTodo = created.body;
  });
  afterAll(() => stack?.stop());

  it("when Bob asks for Ann's todo, then 404, the same answer as for an id that never existed", async () => {
    const foreign = await stack.api.get(`/todos/${annsTodo.id}`, { token: bob.accessToken });
    const unknown = await stack.api.get('/todos/01a2168a-47ce-7125-9122-75972c68c612', { token: bob.accessToken });
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    const strip = (b: unknown) => ({ ...(b as object), requestId: undefined });
    expect(strip(foreign.body)).toEqual(strip(unknown.body));
    expect(foreign.text).not.toContain(annsTodo.id);
    expect(foreign.text).not.toContain('secret');
  });

  it("when Bob lists his todos, none of Ann's appear", async () => {
    const list = await stack.api.get<{ items: unknown[] }>('/todos', { token: bob.accessToken });
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
    expect(list.text).not.toContain(annsTodo.id);
  });

  it('when Ann asks with a malformed id, then 404 rather than a validation error', async () => {
    const res = await stack.api.get('/todos/not-a-uuid', { token: ann.accessToken });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });

  it('Ann still sees her own todo', async () => {
    const res = await stack.api.get<{ id: string }>(`/todos/${annsTodo.id}`, { token: ann.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(annsTodo.id);
  });
});
