import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

describe('a signed-in user manages their account', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  it('GET /auth/me returns the user behind the token', async () => {
    const user = await auth.newUser({ name: 'Erin' });
    const me = await auth.http.get('/auth/me', { token: user.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: user.id, email: user.email, name: 'Erin' });
    expect((await auth.http.get('/auth/me')).status).toBe(401);
  });

  it('every account route refuses a request without a token, or with a token of an ended session', async () => {
    const user = await auth.newUser();
    const calls = (token?: string) => [
      auth.http.get('/auth/me', { token }),
      auth.http.put(
        '/auth/me/password',
        { currentPassword: user.password, newPassword: 'whatever long enough' },
        { token },
      ),
      auth.http.delete('/auth/me', { token, body: { password: user.password } }),
      auth.http.post('/auth/logout', undefined, { token }),
    ];
    for (const res of await Promise.all(calls())) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="auth"');
    }
    expect((await auth.http.post('/auth/logout', undefined, { token: user.accessToken })).status).toBe(204);
    for (const res of await Promise.all(calls(user.accessToken))) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    expect((await auth.http.post('/auth/login', { email: user.email, password: user.password })).status).toBe(200);
  });

  it('changing the password ends every other session and keeps this one', async () => {
    const user = await auth.newUser();
    const other = await auth.logIn(user.email, user.password);
    const newPassword = 'a completely different passphrase';

    const changed = await auth.http.put(
      '/auth/me/password',
      { currentPassword: user.password, newPassword },
      { token: user.accessToken },
    );
    expect(changed.status).toBe(204);
    expect((await auth.http.get('/auth/me', { token: user.accessToken })).status).toBe(200);
    expect((await auth.http.get('/auth/me', { token: other.access_token })).status).toBe(401);
    expect((await auth.http.post('/auth/refresh', { refresh_token: other.refresh_token })).status).toBe(401);
    expect((await auth.http.post('/auth/login', { email: user.email, password: user.password })).status).toBe(401);
    expect((await auth.http.post('/auth/login', { email: user.email, password: newPassword })).status).toBe(200);
  });

  it('a wrong current password is a 403 and changes nothing; a weak new one a 422', async () => {
    const user = await auth.newUser();
    const wrong = await auth.http.put(
      '/auth/me/password',
      { currentPassword: 'not my password', newPassword: 'a completely different passphrase' },
      { token: user.accessToken },
    );
    expect(wrong.status).toBe(403);
    const weak = await auth.http.put(
      '/auth/me/password',
      { currentPassword: user.password, newPassword: 'short' },
      { token: user.accessToken },
    );
    expect(weak.status).toBe(422);
    expect((await auth.http.post('/auth/login', { email: user.email, password: user.password })).status).toBe(200);
  });

  it('a new password containing the email name is refused, pointing at newPassword', async () => {
    const user = await auth.newUser({ email: `harriet-${Date.now()}@example.com` });
    const res = await auth.http.put(
      '/auth/me/password',
      { currentPassword: user.password, newPassword: `call me ${user.email.split('@')[0]?.toUpperCase()}` },
      { token: user.accessToken },
    );
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ errors: [{ pointer: '/newPassword', detail: expect.stringContaining('email') }] });
  });

  it('deleting the account removes the user, its sessions and its credentials', async () => {
    const user = await auth.newUser();
    const wrong = await auth.http.delete('/auth/me', { token: user.accessToken, body: { password: 'nope nope nope' } });
    expect(wrong.status).toBe(403);

    const deleted = await auth.http.delete('/auth/me', { token: user.accessToken, body: { password: user.password } });
    expect(deleted.status).toBe(204);
    expect((await auth.http.get('/auth/me', { token: user.accessToken })).status).toBe(401);
    expect((await auth.http.post('/auth/login', { email: user.email, password: user.password })).status).toBe(401);
    const [counts] = await auth.sql(
      `select (select count(*) from auth.users where id = $1)::int as users,
              (select count(*) from auth.credentials where user_id = $1)::int as credentials,
              (select count(*) from auth.sessions where user_id = $1)::int as sessions`,
      [user.id],
    );
    expect(counts).toEqual({ users: 0, credentials: 0, sessions: 0 });
    const events = await auth.sql(`select payload from auth.outbox where type = 'auth.user.deleted'`);
    expect(events.map((e) => (e.payload as { data: { userId: string } }).data.userId)).toContain(user.id);
    // The address is free again.
    expect((await auth.http.post('/auth/register', { email: user.email, password: user.password })).status).toBe(201);
  });
});
