import { bearer, dataOf, type TestUser, type TodoCreate } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

describe('a user keeps todos: create, read, change, delete', () => {
  let stack: Stack;
  let ann: TestUser;
  beforeAll(async () => {
    stack = await startStack();
    ann = await stack.auth.newUser();
  });
  afterAll(() => stack?.stop());

  const create = (body: TodoCreate) => stack.client.POST('/todos', { body, headers: bearer(ann.accessToken) });
  const todoOf = (id: string) => ({ params: { path: { id } }, headers: bearer(ann.accessToken) });

  it('creates with every field, answering 201 with Location and an ETag from the version', async () => {
    const res = await create({
      title: 'Renew passport',
      description: 'Photos first',
      done: false,
      dueAt: '2027-01-15T09:00:00+01:00',
    });
    expect(res.response.status).toBe(201);
    expect(res.data).toMatchObject({
      title: 'Renew passport',
      description: 'Photos first',
      done: false,
      dueAt: '2027-01-15T08:00:00.000Z',
      version: 1,
    });
    expect(res.response.headers.get('location')).toBe(`/todos/${res.data?.id}`);
    expect(res.response.headers.get('etag')).toBe('"v1"');
  });

  it('reads one todo with its ETag, and answers 304 to If-None-Match with the current tag', async () => {
    const todo = dataOf(await create({ title: 'Read me' }));
    const first = await stack.client.GET('/todos/{id}', todoOf(todo.id));
    expect(first.response.status).toBe(200);
    const etag = first.response.headers.get('etag') ?? '';
    const again = await stack.client.GET('/todos/{id}', {
      ...todoOf(todo.id),
      params: { path: { id: todo.id }, header: { 'If-None-Match': etag } },
    });
    expect(again.response.status).toBe(304);
    // openapi-fetch hands a 304's empty body over as `error`, unparsed.
    expect(again.error).toBe('');
    expect(again.response.headers.get('etag')).toBe(etag);
    const weak = await stack.client.GET('/todos/{id}', {
      ...todoOf(todo.id),
      params: { path: { id: todo.id }, header: { 'If-None-Match': `W/${etag}` } },
    });
    expect(weak.response.status).toBe(304);
    const other = await stack.client.GET('/todos/{id}', {
      ...todoOf(todo.id),
      params: { path: { id: todo.id }, header: { 'If-None-Match': '"v99"' } },
    });
    expect(other.response.status).toBe(200);
  });

  it('PATCH is a merge patch: absent fields stay, null clears, the version and ETag advance', async () => {
    const todo = dataOf(await create({ title: 'Patch me', description: 'old', dueAt: '2027-02-01T00:00:00Z' }));
    const res = await stack.client.PATCH('/todos/{id}', {
      ...todoOf(todo.id),
      body: { done: true, description: null },
      headers: { ...bearer(ann.accessToken), 'content-type': 'application/merge-patch+json' },
    });
    expect(res.response.status).toBe(200);
    expect(res.data).toMatchObject({
      title: 'Patch me',
      description: null,
      done: true,
      dueAt: '2027-02-01T00:00:00.000Z',
      version: 2,
    });
    expect(res.response.headers.get('etag')).toBe('"v2"');
    expect(new Date(res.data?.updatedAt ?? '').getTime()).toBeGreaterThanOrEqual(new Date(todo.updatedAt).getTime());
    const plainJson = await stack.client.PATCH('/todos/{id}', { ...todoOf(todo.id), body: { dueAt: null } });
    expect(plainJson.data).toMatchObject({ dueAt: null, version: 3 });
  });

  it('a body that is not JSON is a 415 naming what each method takes: Accept-Patch on PATCH, Accept-Post on POST', async () => {
    const todo = dataOf(await create({ title: 'Stays as it is' }));
    const asText = { raw: 'title=x', token: ann.accessToken, headers: { 'content-type': 'text/plain' } };
    const patched = await stack.api.patch(`/todos/${todo.id}`, undefined, asText);
    expect(patched.status).toBe(415);
    expect(patched.headers.get('accept-patch')).toBe('application/json, application/merge-patch+json');
    expect(patched.headers.get('accept-post')).toBeNull();
    const posted = await stack.api.post('/todos', undefined, asText);
    expect(posted.status).toBe(415);
    expect(posted.headers.get('accept-post')).toBe('application/json, application/merge-patch+json');
    expect(posted.headers.get('accept-patch')).toBeNull();
    const read = await stack.client.GET('/todos/{id}', todoOf(todo.id));
    expect(read.data).toMatchObject({ title: 'Stays as it is', version: 1 });
  });

  it('PATCH cannot null a required field, add an unknown one, or blank the title', async () => {
    const todo = dataOf(await create({ title: 'Strict' }));
    // Bodies the spec forbids (null where it may not be, an unknown field, a wrong type): the raw client.
    for (const body of [{ title: null }, { done: null }, { colour: 'red' }, { title: '   ' }, { dueAt: 'tomorrow' }]) {
      const res = await stack.api.patch(`/todos/${todo.id}`, body, { token: ann.accessToken });
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    const unchanged = await stack.client.GET('/todos/{id}', todoOf(todo.id));
    expect(unchanged.data?.version).toBe(1);
  });

  it('If-Match with a stale tag is a 412 and nothing changes; with the current tag the write applies', async () => {
    const todo = dataOf(await create({ title: 'Contended' }));
    const patch = (title: string, ifMatch?: string) =>
      stack.client.PATCH('/todos/{id}', {
        ...todoOf(todo.id),
        params: { path: { id: todo.id }, header: ifMatch === undefined ? {} : { 'If-Match': ifMatch } },
        body: { title },
      });
    await patch('Changed elsewhere');
    const stale = await patch('Mine', '"v1"');
    expect(stale.response.status).toBe(412);
    const current = await stack.client.GET('/todos/{id}', todoOf(todo.id));
    expect(current.data).toMatchObject({ title: 'Changed elsewhere', version: 2 });
    const fresh = await patch('Mine', '"v2"');
    expect(fresh.response.status).toBe(200);
    expect(fresh.data?.title).toBe('Mine');
    const weak = await patch('Weak', 'W/"v3"');
    expect(weak.response.status).toBe(412);
  });

  it('DELETE answers 204, then 404; a stale If-Match keeps the todo', async () => {
    const todo = dataOf(await create({ title: 'Delete me' }));
    const ifMatch = (tag: string) => ({
      ...todoOf(todo.id),
      params: { path: { id: todo.id }, header: { 'If-Match': tag } },
    });
    const stale = await stack.client.DELETE('/todos/{id}', ifMatch('"v7"'));
    expect(stale.response.status).toBe(412);
    expect((await stack.client.DELETE('/todos/{id}', ifMatch('"v1"'))).response.status).toBe(204);
    expect((await stack.client.DELETE('/todos/{id}', todoOf(todo.id))).response.status).toBe(404);
    expect((await stack.client.GET('/todos/{id}', todoOf(todo.id))).response.status).toBe(404);
    expect(
      (await stack.client.PATCH('/todos/{id}', { ...todoOf(todo.id), body: { done: true } })).response.status,
    ).toBe(404);
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
    // Some of these break the spec's types (no title, an extra field, a string for a boolean): the raw client.
    for (const body of bad) {
      const res = await stack.api.post('/todos', body, { token: ann.accessToken });
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(422);
    }
    expect((await create({ title: '😀'.repeat(500) })).response.status).toBe(201);
  });

  it('a body with 200 unknown fields gets a 422 listing the first 50; a name too long to quote is not echoed', async () => {
    type Refusal = { detail: string; errors: { pointer: string; detail: string }[] };
    const extras = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`extra${i}`, i]));
    const many = await stack.api.post<Refusal>('/todos', { title: 'ok', ...extras }, { token: ann.accessToken });
    expect(many.status).toBe(422);
    expect(many.body.errors).toHaveLength(50);
    expect(many.body.detail).toContain('The first 50 of 200 errors are listed.');

    const longName = await stack.api.post<Refusal>(
      '/todos',
      { title: 'ok', ['k'.repeat(10_000)]: 1 },
      { token: ann.accessToken },
    );
    expect(longName.status).toBe(422);
    expect(longName.body.errors).toEqual([
      { pointer: '', detail: 'Has an unknown field whose name is too long to quote.' },
    ]);
  });

  it('a dueAt over 64 characters and an If-Match or If-None-Match over 1,024 are a 422 naming them; nothing changes', async () => {
    const todo = dataOf(await create({ title: 'Bounded' }));
    // RFC 3339 allows any number of fractional digits; 81 characters are still too many.
    const dueAt = `2027-01-15T09:00:00.${'0'.repeat(60)}Z`;
    const tags = Array.from({ length: 200 }, (_, i) => `"v${i + 1}"`).join(', ');
    const sent = [
      ['POST', '/todos', { body: { title: 'ok', dueAt } }, { pointer: '/dueAt' }],
      ['PATCH', `/todos/${todo.id}`, { body: { dueAt } }, { pointer: '/dueAt' }],
      ['GET', `/todos/${todo.id}`, { headers: { 'If-None-Match': tags } }, { header: 'If-None-Match' }],
      ['PATCH', `/todos/${todo.id}`, { body: { done: true }, headers: { 'If-Match': tags } }, { header: 'If-Match' }],
      ['DELETE', `/todos/${todo.id}`, { headers: { 'If-Match': tags } }, { header: 'If-Match' }],
    ] as const;
    for (const [method, path, options, where] of sent) {
      const res = await stack.api.request<{ errors: unknown[] }>(method, path, { ...options, token: ann.accessToken });
      expect(res.status, `${method} ${Object.values(where)}`).toBe(422);
      const detail = `Must be at most ${'pointer' in where ? 64 : 1024} characters long.`;
      expect(res.body.errors).toEqual([{ ...where, detail }]);
    }
    expect(dataOf(await stack.client.GET('/todos/{id}', todoOf(todo.id)))).toMatchObject({ version: 1, done: false });
  });
});
