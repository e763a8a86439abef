import type { TestResponse } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, startTodoReplica } from './support/stack.ts';

/** `"writes";r=1;t=60` → { writes: { r: 1, t: 60 } } */
function parseLimits(header: string | null): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const item of (header ?? '').split(',').filter(Boolean)) {
    const [name = '', ...params] = item.trim().split(';');
    out[JSON.parse(name) as string] = Object.fromEntries(
      params.map((p) => {
        const [key = '', value = ''] = p.split('=');
        return [key, Number(value)];
      }),
    );
  }
  return out;
}

const expectRefused = (res: TestResponse) => {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ type: 'tag:todo-platform,2026:problems/rate-limited', status: 429 });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
};

describe('each user has a quota of reads and writes a minute, told in the RateLimit headers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ todoEnv: { RATE_LIMIT_READS_PER_MINUTE: '4', RATE_LIMIT_WRITES_PER_MINUTE: '3' } });
  });
  afterAll(() => stack?.stop());

  it('a user who used up their writes gets 429 with Retry-After and nothing is written; reads go on', async () => {
    const ann = await stack.auth.newUser();
    const create = () => stack.api.post('/todos', { title: 'Water the plants' }, { token: ann.accessToken });

    const first = await create();
    expect(first.status).toBe(201);
    expect(parseLimits(first.headers.get('ratelimit-policy'))).toEqual({ writes: { q: 3, w: 60 } });
    expect(parseLimits(first.headers.get('ratelimit')).writes).toMatchObject({ r: 2 });
    await create();
    const third = await create();
    expect(third.status).toBe(201);
    expect(parseLimits(third.headers.get('ratelimit')).writes).toMatchObject({ r: 0 });

    const refused = await create();
    expectRefused(refused);
    expect(parseLimits(refused.headers.get('ratelimit')).writes).toMatchObject({ r: 0 });

    const listed = await stack.api.get<{ items: unknown[] }>('/todos', { token: ann.accessToken });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(3);
    expect(parseLimits(listed.headers.get('ratelimit-policy'))).toEqual({ reads: { q: 4, w: 60 } });
  });

  it("one user's spent quota does not touch another's", async () => {
    const [ann, bob] = [await stack.auth.newUser(), await stack.auth.newUser()];
    for (let i = 0; i < 4; i++) await stack.api.get('/todos', { token: ann.accessToken });
    expectRefused(await stack.api.get('/todos', { token: ann.accessToken }));
    expect((await stack.api.get('/todos', { token: bob.accessToken })).status).toBe(200);
  });

  it('writes are counted across replicas: a second replica refuses what the first used up', async () => {
    const replica = await startTodoReplica(stack, {
      RATE_LIMIT_READS_PER_MINUTE: '4',
      RATE_LIMIT_WRITES_PER_MINUTE: '3',
    });
    try {
      const cat = await stack.auth.newUser();
      for (let i = 0; i < 3; i++) {
        const api = i % 2 === 0 ? stack.api : replica.http;
        expect((await api.post('/todos', { title: `Task ${i}` }, { token: cat.accessToken })).status).toBe(201);
      }
      expectRefused(await replica.http.post('/todos', { title: 'One more' }, { token: cat.accessToken }));
      expectRefused(await stack.api.delete(`/todos/${crypto.randomUUID()}`, { token: cat.accessToken }));
    } finally {
      await replica.stop();
    }
  });

  it('requests without a valid token are refused before they count against anyone', async () => {
    const dan = await stack.auth.newUser();
    for (let i = 0; i < 10; i++) expect((await stack.api.post('/todos', { title: 'x' })).status).toBe(401);
    const created = await stack.api.post('/todos', { title: 'Mine' }, { token: dan.accessToken });
    expect(created.status).toBe(201);
    expect(parseLimits(created.headers.get('ratelimit')).writes).toMatchObject({ r: 2 });
  });
});
