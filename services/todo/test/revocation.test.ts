import { bearer, dataOf, type TestUser } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Stack, startStack, startTodoReplica } from './support/stack.ts';

/** How soon a running todo service must refuse a token whose session ended. */
const PROPAGATION_DEADLINE_MS = 2_000;

describe('an ended session stops working on the todo service within seconds, not at token expiry', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  const todoStatus = async (token: string) =>
    (await stack.client.GET('/todos', { headers: bearer(token) })).response.status;
  const refusedSoon = (token: string, what: string) =>
    vi.waitFor(async () => expect(await todoStatus(token)).toBe(401), {
      timeout: PROPAGATION_DEADLINE_MS,
      message: what,
    });

  it('after logout, the access token is refused by the todo service within 2 s', async () => {
    const user = await stack.auth.newUser();
    expect(await todoStatus(user.accessToken)).toBe(200);
    expect((await stack.auth.client.POST('/auth/logout', { headers: bearer(user.accessToken) })).response.status).toBe(
      204,
    );
    await refusedSoon(user.accessToken, 'the logged-out token to be refused');
    const res = await stack.client.GET('/todos', { headers: bearer(user.accessToken) });
    expect(res.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(res.error).toMatchObject({ detail: 'The access token was revoked.' });
  });

  it('after a password change, the other devices are out and this one stays in', async () => {
    const user = await stack.auth.newUser();
    const phone = await stack.auth.logIn(user.email, user.password);
    const changed = await stack.auth.client.PUT('/auth/me/password', {
      body: { currentPassword: user.password, newPassword: 'the new and longer passphrase' },
      headers: bearer(user.accessToken),
    });
    expect(changed.response.status).toBe(204);
    await refusedSoon(phone.access_token, "the other device's token to be refused");
    expect(await todoStatus(user.accessToken)).toBe(200);
  });

  it('a refresh-token replay kills the access tokens of the whole session', async () => {
    const user: TestUser = await stack.auth.newUser();
    const refresh = () => stack.auth.client.POST('/auth/refresh', { body: { refresh_token: user.refreshToken } });
    const next = dataOf(await refresh());
    await stack.auth.sql(`update auth.sessions set rotated_at = rotated_at - interval '1 hour' where user_id = $1`, [
      user.id,
    ]);
    expect((await refresh()).response.status).toBe(401);
    await refusedSoon(next.access_token, 'the stolen session to be refused');
  });

  it('a deleted account loses its tokens at once and its todos shortly after', async () => {
    const user = await stack.auth.newUser();
    for (const title of ['one', 'two']) {
      const created = await stack.client.POST('/todos', { body: { title }, headers: bearer(user.accessToken) });
      expect(created.response.status).toBe(201);
    }
    const deleted = await stack.auth.client.DELETE('/auth/me', {
      body: { password: user.password },
      headers: bearer(user.accessToken),
    });
    expect(deleted.response.status).toBe(204);
    await refusedSoon(user.accessToken, "the deleted user's token to be refused");
    await vi.waitFor(
      async () => {
        const [row] = await stack.auth.sql('select count(*)::int as n from todo.todos where owner_id = $1', [user.id]);
        expect(row?.n).toBe(0);
      },
      { timeout: 5_000, message: "the deleted user's todos to be removed" },
    );
  });

  it('a todo replica started after the logout refuses the token from its first request', async () => {
    const user = await stack.auth.newUser();
    expect((await stack.auth.client.POST('/auth/logout', { headers: bearer(user.accessToken) })).response.status).toBe(
      204,
    );
    await refusedSoon(user.accessToken, 'the first replica to learn of the logout');
    const late = await startTodoReplica(stack);
    try {
      expect((await late.client.GET('/todos', { headers: bearer(user.accessToken) })).response.status).toBe(401);
    } finally {
      await late.stop();
    }
  });
});
