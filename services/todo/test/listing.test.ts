import { bearer, dataOf, type TestUser, type Todo, type TodoListQuery } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

describe('listing todos: filters, orders and pages', () => {
  let stack: Stack;
  let user: TestUser;
  const byTitle = new Map<string, Todo>();

  beforeAll(async () => {
    stack = await startStack();
    user = await stack.auth.newUser();
    const seed = [
      { title: 'Pay 100% of the rent', dueAt: '2027-03-01T00:00:00Z' },
      { title: 'Rename file_a to file-b', dueAt: '2027-01-01T00:00:00Z', done: true },
      { title: 'Call mum', description: 'About the RENT', dueAt: null },
      { title: 'Buy milk', dueAt: '2027-02-01T00:00:00Z' },
      { title: 'Read a book', dueAt: null, done: true },
    ];
    for (const body of seed) {
      const res = await stack.client.POST('/todos', { body, headers: bearer(user.accessToken) });
      expect(res.response.status).toBe(201);
      byTitle.set(body.title, dataOf(res));
    }
  });
  afterAll(() => stack?.stop());

  const list = (query: TodoListQuery = {}) =>
    stack.client.GET('/todos', { params: { query }, headers: bearer(user.accessToken) });
  const titles = async (query: TodoListQuery) => dataOf(await list(query)).items.map((t) => t.title);
  /** A query string as it is, for what the typed client would not send (or would encode otherwise). */
  const listRaw = (query: string) => stack.api.get<{ items: Todo[] }>(`/todos${query}`, { token: user.accessToken });

  it('defaults to newest first, 20 per page, with a null cursor on the last page', async () => {
    const res = await list();
    expect(res.response.status).toBe(200);
    expect(res.data?.items.map((t) => t.title)).toEqual([
      'Read a book',
      'Buy milk',
      'Call mum',
      'Rename file_a to file-b',
      'Pay 100% of the rent',
    ]);
    expect(res.data?.nextCursor).toBeNull();
    expect(await titles({ sort: 'createdAt' })).toEqual([...(res.data?.items ?? []).map((t) => t.title)].reverse());
  });

  it('orders by due date both ways, with undated todos last either way', async () => {
    expect(await titles({ sort: 'dueAt' })).toEqual([
      'Rename file_a to file-b',
      'Buy milk',
      'Pay 100% of the rent',
      'Call mum',
      'Read a book',
    ]);
    expect(await titles({ sort: '-dueAt' })).toEqual([
      'Pay 100% of the rent',
      'Buy milk',
      'Rename file_a to file-b',
      'Read a book',
      'Call mum',
    ]);
  });

  it('filters by done, by due window, and by text with % and _ taken literally', async () => {
    expect(await titles({ done: true, sort: 'createdAt' })).toEqual(['Rename file_a to file-b', 'Read a book']);
    expect(await titles({ done: false, sort: 'createdAt' })).toEqual(['Pay 100% of the rent', 'Call mum', 'Buy milk']);
    expect(await titles({ dueAfter: '2027-02-01T00:00:00Z', dueBefore: '2027-03-01T00:00:00Z' })).toEqual(['Buy milk']);
    expect(await titles({ q: 'rent', sort: 'createdAt' })).toEqual(['Pay 100% of the rent', 'Call mum']);
    expect(await titles({ q: '100%' })).toEqual(['Pay 100% of the rent']);
    expect(await titles({ q: '%' })).toEqual(['Pay 100% of the rent']);
    expect(await titles({ q: 'e_a' })).toEqual(['Rename file_a to file-b']);
    // `_` percent-encoded although it need not be, which the typed client never does.
    expect((await listRaw('?q=e%5Fa')).body.items.map((t) => t.title)).toEqual(['Rename file_a to file-b']);
    expect(await titles({ q: '_' })).toEqual(['Rename file_a to file-b']);
  });

  it('pages with an opaque cursor until nextCursor is null', async () => {
    const seen: string[] = [];
    let query: TodoListQuery = { limit: 2, sort: 'dueAt' };
    for (let i = 0; i < 10; i++) {
      const res = await list(query);
      expect(res.response.status).toBe(200);
      const page = dataOf(res);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((t) => t.title));
      if (!page.nextCursor) break;
      query = { limit: 2, sort: 'dueAt', cursor: page.nextCursor };
    }
    expect(seen).toEqual(await titles({ sort: 'dueAt' }));
  });

  it('refuses out-of-range and unknown parameters, and cursors that were not issued for the query', async () => {
    const first = dataOf(await list({ limit: 1 }));
    const cursor = encodeURIComponent(first.nextCursor ?? '');
    const issued = JSON.parse(Buffer.from(first.nextCursor ?? '', 'base64url').toString()) as object;
    const forged = (change: object) => Buffer.from(JSON.stringify({ ...issued, ...change })).toString('base64url');
    const bad = [
      '?limit=0',
      '?limit=101',
      '?limit=abc',
      '?limit=1&limit=2',
      '?sort=title',
      '?done=maybe',
      '?dueBefore=yesterday',
      `?dueBefore=2027-01-01T00:00:00.${'0'.repeat(60)}Z`,
      `?dueAfter=2027-01-01T00:00:00.${'0'.repeat(60)}Z`,
      `?cursor=${'c'.repeat(513)}`,
      `?${'p'.repeat(300)}=1`,
      '?colour=red',
      '?q=',
      `?q=${'x'.repeat(201)}`,
      '?cursor=not-a-cursor',
      `?cursor=${Buffer.from('{"v":1}').toString('base64url')}`,
      `?cursor=${cursor}&sort=dueAt`,
      // Cursors this service never issued, however plausible: a sort key that is not a timestamp, a date
      // that does not exist, an extra field.
      `?cursor=${forged({ k: '1' })}`,
      `?cursor=${forged({ k: '2026-02-30 10:00:00+00' })}`,
      `?cursor=${forged({ k: "2026-01-01 10:00:00+00' or 1=1" })}`,
      `?cursor=${forged({ extra: true })}`,
      `?cursor=${cursor}&done=true`,
    ];
    // Out of range, unknown, repeated or not of the parameter's type, most of them untypeable: the raw client.
    for (const query of bad) {
      const res = await listRaw(query);
      expect(res.status, query).toBe(422);
      expect(res.body).toMatchObject({ errors: [expect.objectContaining({ parameter: expect.any(String) })] });
    }
    expect((await list({ limit: 1, cursor: first.nextCursor ?? '' })).response.status).toBe(200);
  });

  it('a forged cursor with a sort key PostgreSQL would refuse is a 422 problem, never a 500', async () => {
    const first = dataOf(await list({ limit: 1 }));
    const issued = JSON.parse(Buffer.from(first.nextCursor ?? '', 'base64url').toString()) as object;
    const forged = (k: string) => Buffer.from(JSON.stringify({ ...issued, k })).toString('base64url');
    // The fingerprint is a hash of the public query shape, so a client can forge a cursor that passes it: a
    // sort key shaped like a timestamptz but with a UTC offset, or a year, that PostgreSQL's ::timestamptz
    // refuses with an error ("time zone displacement out of range", "date/time field value out of range").
    const refused = [
      '2026-01-01 00:00:00+99',
      '2026-01-01 00:00:00-16',
      '2026-01-01 00:00:00+05:99',
      '2026-01-01 00:00:00+00:60',
      '2026-01-01 00:00:00.5-16:00',
      '0000-01-01 00:00:00+00',
      '+infinity',
      'infinity+00',
    ];
    for (const k of refused) {
      const res = await listRaw(`?cursor=${forged(k)}`);
      expect(res.status, k).toBe(422);
      expect(res.headers.get('content-type'), k).toContain('application/problem+json');
      expect(res.body, k).toMatchObject({ errors: [expect.objectContaining({ parameter: 'cursor' })] });
    }
    // The edges PostgreSQL does take are positions like any other: a page (here, perhaps an empty one).
    const taken = [
      '2026-01-01 00:00:00+15:59',
      '2026-01-01 00:00:00-15',
      '2026-01-01 00:00:00-00',
      '0050-01-01 00:00:00+00',
      '0001-01-01 00:00:00+00',
      '9999-12-31 23:59:59.999999-15:59',
      'infinity',
      '-infinity',
    ];
    for (const k of taken) expect((await listRaw(`?cursor=${forged(k)}`)).status, k).toBe(200);
  });
});

describe('due dates at the ends of the range', () => {
  let stack: Stack;
  let user: TestUser;
  beforeAll(async () => {
    stack = await startStack();
    user = await stack.auth.newUser();
  });
  afterAll(() => stack?.stop());

  it('the first and last instants of years 0001–9999 are stored and paged through by due date; beyond them is a 422 that changes nothing', async () => {
    const asUser = { headers: bearer(user.accessToken) };
    for (const dueAt of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2027-06-01T12:00:00+02:00']) {
      expect((await stack.client.POST('/todos', { body: { title: dueAt, dueAt }, ...asUser })).response.status).toBe(
        201,
      );
    }
    // Years 0 and 10000 once the offset is applied, and year 0 as written.
    for (const dueAt of ['0001-01-01T00:00:00+01:00', '9999-12-31T23:00:00-05:00', '0000-06-01T00:00:00Z']) {
      const refused = await stack.client.POST('/todos', { body: { title: 'out of range', dueAt }, ...asUser });
      expect(refused.response.status).toBe(422);
      expect(JSON.stringify(refused.error)).toContain('Must be an instant from 0001-01-01T00:00:00Z');
      const filtered = await stack.client.GET('/todos', { params: { query: { dueBefore: dueAt } }, ...asUser });
      expect(filtered.response.status).toBe(422);
    }
    for (const sort of ['dueAt', '-dueAt'] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = dataOf(
          await stack.client.GET('/todos', {
            params: { query: { sort, limit: 1, ...(cursor ? { cursor } : {}) } },
            ...asUser,
          }),
        );
        seen.push(...page.items.map((t) => t.dueAt ?? 'none'));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      const ascending = ['0001-01-01T00:00:00.000Z', '2027-06-01T10:00:00.000Z', '9999-12-31T23:59:59.999Z'];
      expect(seen).toEqual(sort === 'dueAt' ? ascending : [...ascending].reverse());
    }
  });
});
