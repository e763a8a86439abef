import { bearer } from '@todo/testkit';
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

const expectRefused = ({ error, response }: { error?: unknown; response: Response }) => {
  expect(response.status).toBe(429);
  expect(error).toMatchObject({ type: 'tag:todo-platform,2026:problems/rate-limited', status: 429 });
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(Number(response.headers.get('retry-after'))).toBeLessThanOrEqual(60);
};

describe('each user has a quota of reads and writes a minute, told in the RateLimit headers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ todoEnv: { RATE_LIMIT_READS_PER_MINUTE: '4', RATE_LIMIT_WRITES_PER_MINUTE: '3' } });
  });
  afterAll(() => stack?.stop());

  it('a user who used up their writes gets 429 with Retry-After and nothing is written; reads go on', async () => {
    const ann = await stack.auth.newUser();
    const create = () =>
      stack.client.POST('/todos', { body: { title: 'Water the plants' }, headers: bearer(ann.accessToken) });

    const first = await create();
    expect(first.response.status).toBe(201);
    expect(parseLimits(first.response.headers.get('ratelimit-policy')).writes).toEqual({ q: 3, w: 60 });
    expect(parseLimits(first.response.headers.get('ratelimit')).writes).toMatchObject({ r: 2 });
    await create();
    const third = await create();
    expect(third.response.status).toBe(201);
    expect(parseLimits(third.response.headers.get('ratelimit')).writes).toMatchObject({ r: 0 });

    const refused = await create();
    expectRefused(refused);
    expect(parseLimits(refused.response.headers.get('ratelimit')).writes).toMatchObject({ r: 0 });

    const listed = await stack.client.GET('/todos', { headers: bearer(ann.accessToken) });
    expect(listed.response.status).toBe(200);
    expect(listed.data?.items).toHaveLength(3);
    expect(parseLimits(listed.response.headers.get('ratelimit-policy')).reads).toEqual({ q: 4, w: 60 });
  });

  it("one user's spent quota does not touch another's", async () => {
    const [ann, bob] = [await stack.auth.newUser(), await stack.auth.newUser()];
    const list = (token: string) => stack.client.GET('/todos', { headers: bearer(token) });
    for (let i = 0; i < 4; i++) await list(ann.accessToken);
    expectRefused(await list(ann.accessToken));
    expect((await list(bob.accessToken)).response.status).toBe(200);
  });

  it('writes are counted across replicas: a second replica refuses what the first used up', async () => {
    const replica = await startTodoReplica(stack, {
      RATE_LIMIT_READS_PER_MINUTE: '4',
      RATE_LIMIT_WRITES_PER_MINUTE: '3',
    });
    try {
      const cat = await stack.auth.newUser();
      const asCat = { headers: bearer(cat.accessToken) };
      for (let i = 0; i < 3; i++) {
        const client = i % 2 === 0 ? stack.client : replica.client;
        expect((await client.POST('/todos', { body: { title: `Task ${i}` }, ...asCat })).response.status).toBe(201);
      }
      expectRefused(await replica.client.POST('/todos', { body: { title: 'One more' }, ...asCat }));
      expectRefused(
        await stack.client.DELETE('/todos/{id}', { params: { path: { id: crypto.randomUUID() } }, ...asCat }),
      );
    } finally {
      await replica.stop();
    }
  });

  it('requests without a valid token are refused before they count against anyone', async () => {
    const dan = await stack.auth.newUser();
    for (let i = 0; i < 10; i++) {
      expect((await stack.client.POST('/todos', { body: { title: 'x' } })).response.status).toBe(401);
    }
    const created = await stack.client.POST('/todos', { body: { title: 'Mine' }, headers: bearer(dan.accessToken) });
    expect(created.response.status).toBe(201);
    expect(parseLimits(created.response.headers.get('ratelimit')).writes).toMatchObject({ r: 2 });
  });
});

describe('one address flooding a replica is refused before any token is checked', () => {
  let stack: Stack;
  // Requests arrive through one trusted proxy; the client is the address it appended.
  const env = { RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE: '5', TRUST_PROXY_HOPS: '1' };
  const from = (client: string, token?: string) => ({
    headers: { 'x-forwarded-for': client, ...(token ? bearer(token) : {}) },
  });
  beforeAll(async () => {
    stack = await startStack({ todoEnv: env, authEnv: env });
  });
  afterAll(() => stack?.stop());

  it('the sixth request of a minute from one address gets 429, with or without a token; other addresses go on', async () => {
    const ann = await stack.auth.newUser();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const token = i % 2 === 0 ? ann.accessToken : undefined;
      const res = await stack.client.GET('/todos', from('203.0.113.9', token));
      seen.push(res.response.status);
      expect(parseLimits(res.response.headers.get('ratelimit-policy')).client).toEqual({ q: 5, w: 60 });
      expect(parseLimits(res.response.headers.get('ratelimit')).client).toMatchObject({ r: 4 - i });
    }
    expect(seen).toEqual([200, 401, 200, 401, 200]);
    expectRefused(await stack.client.GET('/todos', from('203.0.113.9', ann.accessToken)));
    expectRefused(await stack.client.GET('/todos', from('203.0.113.9')));
    expect((await stack.client.GET('/todos', from('203.0.113.10', ann.accessToken))).response.status).toBe(200);
  });

  it('on the auth service too: a flooding address is refused before any password is checked', async () => {
    // Bob signs up from an address of his own: 127.0.0.1 also carries the todo service's JWKS fetches.
    const bob = { email: `bob-${crypto.randomUUID()}@example.com`, password: `pw-${crypto.randomUUID()}` };
    const signedUp = await stack.auth.client.POST('/auth/register', { body: bob, ...from('198.51.100.1') });
    expect(signedUp.response.status).toBe(201);
    const logIn = (password: string) =>
      stack.auth.client.POST('/auth/login', { body: { email: bob.email, password }, ...from('198.51.100.99') });
    for (let i = 0; i < 5; i++) expect((await logIn(`wrong ${i}`)).response.status).toBe(401);
    expectRefused(await logIn(bob.password));
    expect((await stack.auth.client.GET('/.well-known/jwks.json', from('198.51.100.99'))).response.status).toBe(429);
  });
});
