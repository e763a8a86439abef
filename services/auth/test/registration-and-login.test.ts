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
    const res = await auth.client.POST('/auth/register', {
      body: { email: '  Carol@Example.COM ', password, name: ' Carol ' },
    });
    expect(res.response.status).toBe(201);
    expect(res.response.headers.get('location')).toBe('/auth/me');
    expect(Object.keys(res.data ?? {}).sort()).toEqual(['createdAt', 'email', 'emailVerified', 'id', 'name']);
    expect(res.data?.emailVerified).toBe(false);
    expect(res.data).toMatchObject({ email: 'carol@example.com', name: 'Carol' });
    expect(JSON.stringify(res.data)).not.toContain(password);
  });

  it('registering a taken email again (in any case) is a 409 conflict', async () => {
    const res = await auth.client.POST('/auth/register', { body: { email: 'CAROL@example.com', password } });
    expect(res.response.status).toBe(409);
    expect(res.response.headers.get('content-type')).toContain('application/problem+json');
    expect(res.error).toMatchObject({ status: 409, title: 'Conflict' });
  });

  it('a short password, a bad email and an unknown field are each reported at their place with 422', async () => {
    // A field the spec forbids: the raw client.
    const res = await auth.http.post<{ errors: { pointer: string }[] }>('/auth/register', {
      email: 'not-an-email',
      password: 'short',
      admin: true,
    });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e) => e.pointer).sort()).toEqual(['/admin', '/email', '/password']);
  });

  it('a password counted in code points, not UTF-16 units, so 12 emoji are long enough', async () => {
    const res = await auth.client.POST('/auth/register', {
      body: { email: 'emoji@example.com', password: '🔑'.repeat(12) },
    });
    expect(res.response.status).toBe(201);
  });

  it('a password containing the email name is refused', async () => {
    const res = await auth.client.POST('/auth/register', {
      body: { email: 'dorothy@example.com', password: 'dorothy-in-oz-1939' },
    });
    expect(res.response.status).toBe(422);
    expect(res.error?.errors).toEqual([{ pointer: '/password', detail: expect.any(String) }]);
  });

  it('logging in returns an RFC 6749 token response that is never cached', async () => {
    const res = await auth.client.POST('/auth/login', { body: { email: 'carol@example.com', password } });
    expect(res.response.status).toBe(200);
    expect(res.response.headers.get('cache-control')).toBe('no-store');
    expect(res.data).toMatchObject({ token_type: 'Bearer', expires_in: 900, user: { email: 'carol@example.com' } });
    expect(typeof res.data?.access_token).toBe('string');
  });

  it('an unknown email and a wrong password get the same 401 body', async () => {
    const logIn = (email: string, password: string) => auth.client.POST('/auth/login', { body: { email, password } });
    const wrong = await logIn('carol@example.com', 'not the password!');
    const unknown = await logIn('nobody@example.com', password);
    expect(wrong.response.status).toBe(401);
    expect(unknown.response.status).toBe(401);
    const strip = (b: unknown) => ({ ...(b as object), requestId: undefined });
    expect(strip(wrong.error)).toEqual(strip(unknown.error));
  });

  it('a password is at most 1,024 characters as sent, counted in code points; one more is a 422 wherever it goes', async () => {
    const user = await auth.newUser();
    const tooLong = '🔑'.repeat(1025);
    const sent = [
      ['POST', '/auth/register', { email: 'long@example.com', password: tooLong }, ['/password']],
      ['POST', '/auth/login', { email: user.email, password: tooLong }, ['/password']],
      [
        'PUT',
        '/auth/me/password',
        { currentPassword: tooLong, newPassword: tooLong },
        ['/currentPassword', '/newPassword'],
      ],
      ['DELETE', '/auth/me', { password: tooLong }, ['/password']],
    ] as const;
    for (const [method, path, body, pointers] of sent) {
      const res = await auth.http.request<{ errors: unknown[] }>(method, path, { body, token: user.accessToken });
      expect(res.status, path).toBe(422);
      const detail = 'Must be at most 1024 characters long.';
      expect(res.body.errors, path).toEqual(pointers.map((pointer) => ({ pointer, detail })));
    }
    // 1,024 emoji are 2,048 UTF-16 units, yet within the bound: a wrong password, not an invalid one.
    const atTheBound = await auth.client.POST('/auth/login', {
      body: { email: user.email, password: '🔑'.repeat(1024) },
    });
    expect(atTheBound.response.status).toBe(401);
  });
});

// Requests no typed client can send (raw bodies, wrong content types, unknown paths and methods, odd headers)
// go through the raw client here; only the oversized but well-formed body is typed.
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

  it('a body that is not JSON is a 415 whose Accept-Post says what a POST may send (no Accept-Patch)', async () => {
    const res = await auth.http.post('/auth/login', undefined, {
      raw: 'email=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('accept-post')).toBe('application/json, application/merge-patch+json');
    expect(res.headers.get('accept-patch')).toBeNull();
  });

  it('a JSON array or scalar where an object belongs is a 422', async () => {
    const res = await auth.http.post('/auth/login', ['a', 'b']);
    expect(res.status).toBe(422);
  });

  it('an oversized body is a 413', async () => {
    const res = await auth.client.POST('/auth/login', {
      body: { email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(res.response.status).toBe(413);
    expect(res.response.headers.get('content-type')).toContain('application/problem+json');
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
