import { bearer, type TokenResponse } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

describe('logging out ends sessions for real', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  /** A user signed in on three devices. */
  async function threeDevices() {
    const user = await auth.newUser();
    const [laptop, phone, tablet] = await Promise.all([
      auth.logIn(user.email, user.password),
      auth.logIn(user.email, user.password),
      auth.logIn(user.email, user.password),
    ]);
    return { user, laptop: laptop as TokenResponse, phone: phone as TokenResponse, tablet: tablet as TokenResponse };
  }
  const alive = async (device: TokenResponse) =>
    (await auth.client.GET('/auth/me', { headers: bearer(device.access_token) })).response.status === 200;
  const canRefresh = async (device: TokenResponse) =>
    (await auth.client.POST('/auth/refresh', { body: { refresh_token: device.refresh_token } })).response.status ===
    200;
  const logout = (device: TokenResponse, scope?: 'local' | 'others' | 'global') =>
    auth.client.POST('/auth/logout', {
      params: { query: scope ? { scope } : {} },
      headers: bearer(device.access_token),
    });

  it("scope=local (the default) ends only this device's session", async () => {
    const { laptop, phone, tablet } = await threeDevices();
    expect((await logout(laptop)).response.status).toBe(204);
    expect(await alive(laptop)).toBe(false);
    expect(await canRefresh(laptop)).toBe(false);
    expect(await alive(phone)).toBe(true);
    expect(await alive(tablet)).toBe(true);
  });

  it('scope=others ends every other session and keeps this one', async () => {
    const { laptop, phone, tablet } = await threeDevices();
    expect((await logout(laptop, 'others')).response.status).toBe(204);
    expect(await alive(laptop)).toBe(true);
    expect(await canRefresh(phone)).toBe(false);
    expect(await canRefresh(tablet)).toBe(false);
  });

  it('scope=global ends all of them', async () => {
    const { user, laptop, phone, tablet } = await threeDevices();
    expect((await logout(phone, 'global')).response.status).toBe(204);
    for (const device of [laptop, phone, tablet]) expect(await canRefresh(device)).toBe(false);
    const rows = await auth.sql('select revoked_reason from auth.sessions where user_id = $1', [user.id]);
    expect(rows.map((r) => r.revoked_reason)).toEqual([
      'logout_global',
      'logout_global',
      'logout_global',
      'logout_global',
    ]);
  });

  it('logging out twice with the same token is a 401: the session is already over', async () => {
    const { laptop } = await threeDevices();
    expect((await logout(laptop)).response.status).toBe(204);
    const again = await logout(laptop);
    expect(again.response.status).toBe(401);
    expect(again.response.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('without a token it is a 401; with an unknown scope a 422', async () => {
    expect((await auth.client.POST('/auth/logout')).response.status).toBe(401);
    const { laptop } = await threeDevices();
    // A scope the spec does not have: the raw client.
    const bad = await auth.http.post('/auth/logout?scope=everyone', undefined, { token: laptop.access_token });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ errors: [{ parameter: 'scope' }] });
  });

  it('every revocation is recorded in the outbox for the other services', async () => {
    const { user, laptop } = await threeDevices();
    await logout(laptop, 'global');
    const events = await auth.sql(
      `select payload from auth.outbox where type = 'auth.session.revoked' and payload->'data'->>'userId' = $1`,
      [user.id],
    );
    expect(events).toHaveLength(4);
    expect(events[0]?.payload).toMatchObject({
      specversion: '1.0',
      type: 'auth.session.revoked',
      source: 'todo-platform/auth',
      data: { userId: user.id, reason: 'logout_global', tokensExpireBy: expect.any(Number) },
    });
  });
});
