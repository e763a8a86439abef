import { bearer } from '@todo/testkit';
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
    const me = await auth.client.GET('/auth/me', { headers: bearer(user.accessToken) });
    expect(me.response.status).toBe(200);
    expect(me.data).toMatchObject({ id: user.id, email: user.email, name: 'Erin' });
    expect((await auth.client.GET('/auth/me')).response.status).toBe(401);
  });

  it('every account route refuses a request without a token, or with a token of an ended session', async () => {
    const user = await auth.newUser();
    const calls = (token?: string) => {
      const headers = token === undefined ? {} : bearer(token);
      return [
        auth.client.GET('/auth/me', { headers }),
        auth.client.PUT('/auth/me/password', {
          body: { currentPassword: user.password, newPassword: 'whatever long enough' },
          headers,
        }),
        auth.client.DELETE('/auth/me', { body: { password: user.password }, headers }),
        auth.client.POST('/auth/logout', { headers }),
      ];
    };
    for (const { response } of await Promise.all(calls())) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="auth"');
    }
    expect((await auth.client.POST('/auth/logout', { headers: bearer(user.accessToken) })).response.status).toBe(204);
    for (const { response } of await Promise.all(calls(user.accessToken))) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    expect(
      (await auth.client.POST('/auth/login', { body: { email: user.email, password: user.password } })).response.status,
    ).toBe(200);
  });

  it('changing the password ends every other session and keeps this one', async () => {
    const user = await auth.newUser();
    const other = await auth.logIn(user.email, user.password);
    const newPassword = 'a completely different passphrase';

    const changed = await auth.client.PUT('/auth/me/password', {
      body: { currentPassword: user.password, newPassword },
      headers: bearer(user.accessToken),
    });
    expect(changed.response.status).toBe(204);
    expect((await auth.client.GET('/auth/me', { headers: bearer(user.accessToken) })).response.status).toBe(200);
    expect((await auth.client.GET('/auth/me', { headers: bearer(other.access_token) })).response.status).toBe(401);
    expect(
      (await auth.client.POST('/auth/refresh', { body: { refresh_token: other.refresh_token } })).response.status,
    ).toBe(401);
    expect(
      (await auth.client.POST('/auth/login', { body: { email: user.email, password: user.password } })).response.status,
    ).toBe(401);
    expect(
      (await auth.client.POST('/auth/login', { body: { email: user.email, password: newPassword } })).response.status,
    ).toBe(200);
  });

  it('a wrong current password is a 403 and changes nothing; a weak new one a 422', async () => {
    const user = await auth.newUser();
    const changePassword = (currentPassword: string, newPassword: string) =>
      auth.client.PUT('/auth/me/password', {
        body: { currentPassword, newPassword },
        headers: bearer(user.accessToken),
      });
    const wrong = await changePassword('not my password', 'a completely different passphrase');
    expect(wrong.response.status).toBe(403);
    const weak = await changePassword(user.password, 'short');
    expect(weak.response.status).toBe(422);
    expect(
      (await auth.client.POST('/auth/login', { body: { email: user.email, password: user.password } })).response.status,
    ).toBe(200);
  });

  it('a new password containing the email name is refused, pointing at newPassword', async () => {
    const user = await auth.newUser({ email: `harriet-${Date.now()}@example.com` });
    const res = await auth.client.PUT('/auth/me/password', {
      body: { currentPassword: user.password, newPassword: `call me ${user.email.split('@')[0]?.toUpperCase()}` },
      headers: bearer(user.accessToken),
    });
    expect(res.response.status).toBe(422);
    expect(res.error).toMatchObject({
      errors: [{ pointer: '/newPassword', detail: expect.stringContaining('email') }],
    });
  });

  it('deleting the account removes the user, its sessions and its credentials', async () => {
    const user = await auth.newUser();
    const deleteAccount = (password: string) =>
      auth.client.DELETE('/auth/me', { body: { password }, headers: bearer(user.accessToken) });
    const wrong = await deleteAccount('nope nope nope');
    expect(wrong.response.status).toBe(403);

    const deleted = await deleteAccount(user.password);
    expect(deleted.response.status).toBe(204);
    expect((await auth.client.GET('/auth/me', { headers: bearer(user.accessToken) })).response.status).toBe(401);
    expect(
      (await auth.client.POST('/auth/login', { body: { email: user.email, password: user.password } })).response.status,
    ).toBe(401);
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
    expect(
      (await auth.client.POST('/auth/register', { body: { email: user.email, password: user.password } })).response
        .status,
    ).toBe(201);
  });
});
