import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

describe('signing up and logging in', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  const password = 'correct horse battery staple';

  it('a new user registers with a normalised email and gets a 201 with the user, never the password', async () => {
    const res = await auth.http.post<Record<string, unknown>>('/auth/register', {
      email: '  Carol@Example.COM ',
      password,
      name: ' Carol ',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/auth/me');
    expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'email', 'id', 'name']);
    expect(res.body).toMatchObject({ email: 'carol@example.com', name: 'Carol' });
    expect(res.text).not.toContain(password);
  });

  it('registering a taken email again (in any case) is a 409 conflict', async () => {
    const res = await auth.http.post('/auth/register', { email: 'CAROL@example.com', password });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 409, title: 'Conflict' });
  });

  it('a short password, a bad email and an unknown field are each reported at their place with 422', async () => {
    const res = await auth.http.post<{ errors: { pointer: string }[] }>('/auth/register', {
      email: 'not-an-email',
      password: 'short',
      admin: true,
    });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e) => e.pointer).sort()).toEqual(['/admin', '/email', '/password']);
  });

  it('a password counted in code points, not UTF-16 units, so 12 emoji are long enough', async () => {
    const res = await auth.http.post('/auth/register', {
      email: 'emoji@example.com',
      password: '🔑'.repeat(12),
    });
    expect(res.status).toBe(201);
  });

  it('a password containing the email name is refused', async () => {
    const res = await auth.http.post<{ errors: { pointer: string }[] }>('/auth/register', {
      email: 'dorothy@example.com',
      password: 'dorothy-in-oz-1939',
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ pointer: '/password', detail: expect.any(String) }]);
  });

  it('logging in returns an RFC 6749 token response that is never cached', async () => {
    const res = await auth.http.post<Record<string, unknown>>('/auth/login', { email: 'carol@example.com', password });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, user: { email: 'carol@example.com' } });
    expect(typeof res.body.access_token).toBe('string');
  });

  it('an unknown email and a wrong password get the same 401 body', async () => {
    const wrong = await auth.http.post('/auth/login', { email: 'carol@example.com', password: 'not the password!' });
    const unknown = await auth.http.post('/auth/login', { email: 'nobody@example.com', password });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const strip = (b: unknown) => ({ ...(b as object), requestId: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
  });
});

describe('malformed requests get problem details, never a 500', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  it('malformed JSON is a 400', async () => {
    const res = await auth.http.post('/auth/login', undefined, {
      raw: '{"email":',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, title: 'Bad Request' });
  });

  it('a body that is not JSON is a 415', async () => {
    const res = await auth.http.post('/auth/login', undefined, {
      raw: 'email=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
  });

  it('a JSON array or scalar where an object belongs is a 422', async () => {
    const res = await auth.http.post('/auth/login', ['a', 'b']);
    expect(res.status).toBe(422);
  });

  it('an oversized body is a 413', async () => {
    const res = await auth.http.post('/auth/login', { email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });

  it('an unknown route is a 404 problem, a wrong method a 405 with Allow', async () => {
    const missing = await auth.http.get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: 404 });
    const wrongMethod = await auth.http.get('/auth/login');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toContain('POST');
  });

  it('every response carries a request id, echoed when the client sent a sane one', async () => {
    const res = await auth.http.get('/nope', { headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    expect(res.body).toMatchObject({ requestId: 'trace-123' });
    const hostile = await auth.http.get('/nope', { headers: { 'x-request-id': '<script>' } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
