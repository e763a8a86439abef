import type { MikroORM } from '@todo/platform/db';
import { bearer, dataOf, ormOn, type TestUser } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authService } from '../src/definition.ts';
import { sweepEndedSessions } from '../src/domain/sessions.ts';
import { type AuthHarness, startAuth } from './support/harness.ts';

describe('refresh tokens rotate, and a stolen one ends the session', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  const refresh = (token: string) => auth.client.POST('/auth/refresh', { body: { refresh_token: token } });
  const sessionsOf = (userId: string) =>
    auth.sql('select id, counter, revoked_reason from auth.sessions where user_id = $1', [userId]);
  /** Moves the session's last rotation into the past, as if `seconds` had gone by. */
  const age = (userId: string, seconds: number) =>
    auth.sql(`update auth.sessions set rotated_at = rotated_at - make_interval(secs => $2) where user_id = $1`, [
      userId,
      seconds,
    ]);

  it('a refresh returns a new pair and spends the old refresh token', async () => {
    const user = await auth.newUser();
    const first = await refresh(user.refreshToken);
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('cache-control')).toBe('no-store');
    const pair = dataOf(first);
    expect(pair.refresh_token).not.toBe(user.refreshToken);
    expect(pair.access_token).not.toBe(user.accessToken);
    expect(pair.refresh_expires_in).toBeGreaterThan(0);
    expect(pair.user.id).toBe(user.id);

    const second = await refresh(pair.refresh_token);
    expect(second.response.status).toBe(200);
    expect((await sessionsOf(user.id)).map((s) => s.counter)).toEqual([2]);
  });

  it('refresh tokens are opaque, long and unguessable: no two alike, at least 256 bits of MAC', async () => {
    const user = await auth.newUser();
    const again = await auth.logIn(user.email, user.password);
    expect(again.refresh_token).not.toBe(user.refreshToken);
    const mac = user.refreshToken.split('.').at(-1) ?? '';
    expect(Buffer.from(mac, 'base64url').length).toBeGreaterThanOrEqual(32);
    const stored = JSON.stringify(await auth.sql('select * from auth.sessions where user_id = $1', [user.id]));
    expect(stored).not.toContain(mac);
  });

  it('the just-spent token presented again within the reuse interval gets the same successor (two tabs)', async () => {
    const user = await auth.newUser();
    const a = await refresh(user.refreshToken);
    const b = await refresh(user.refreshToken);
    expect(a.response.status).toBe(200);
    expect(b.response.status).toBe(200);
    expect(b.data?.refresh_token).toBe(a.data?.refresh_token);
    expect(await sessionsOf(user.id)).toEqual([expect.objectContaining({ counter: 1, revoked_reason: null })]);
    // and the successor itself still works
    expect((await refresh(dataOf(a).refresh_token)).response.status).toBe(200);
  });

  it('two concurrent refreshes of one token both succeed, with no 500 and no second session', async () => {
    const user = await auth.newUser();
    const results = await Promise.all(Array.from({ length: 5 }, () => refresh(user.refreshToken)));
    expect(results.map((r) => r.response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(results.map((r) => r.data?.refresh_token)).size).toBe(1);
    const sessions = await sessionsOf(user.id);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ counter: 1, revoked_reason: null });
  });

  it('replaying a spent token after the reuse interval revokes the whole session: every token of it dies', async () => {
    const user: TestUser = await auth.newUser();
    const next = dataOf(await refresh(user.refreshToken));
    await age(user.id, auth.config.REFRESH_REUSE_INTERVAL_SECONDS + 1);

    const replay = await refresh(user.refreshToken);
    expect(replay.response.status).toBe(401);
    expect(replay.error).toMatchObject({ type: expect.stringMatching(/invalid-grant$/) });
    // The legitimate holder's current token is dead too, and so is the session's access token.
    expect((await refresh(next.refresh_token)).response.status).toBe(401);
    expect((await auth.client.GET('/auth/me', { headers: bearer(next.access_token) })).response.status).toBe(401);
    expect(await sessionsOf(user.id)).toEqual([expect.objectContaining({ revoked_reason: 'refresh_token_reuse' })]);
  });

  it('an older ancestor is a replay even inside the interval', async () => {
    const user = await auth.newUser();
    const one = dataOf(await refresh(user.refreshToken));
    await refresh(one.refresh_token);
    expect((await refresh(user.refreshToken)).response.status).toBe(401);
    expect((await sessionsOf(user.id))[0]).toMatchObject({ revoked_reason: 'refresh_token_reuse' });
  });

  it('a forged token (right session, wrong MAC) is refused without ending the session', async () => {
    const user = await auth.newUser();
    const [v, sid, counter] = user.refreshToken.split('.');
    const forged = `${v}.${sid}.${counter}.${Buffer.alloc(32, 7).toString('base64url')}`;
    expect((await refresh(forged)).response.status).toBe(401);
    expect((await refresh(user.refreshToken)).response.status).toBe(200);
  });

  it('a token is accepted in exactly the spelling it was issued in: another encoding of the same MAC is refused', async () => {
    const user = await auth.newUser();
    const mac = user.refreshToken.split('.').at(-1) ?? '';
    // The last of 43 base64url characters carries 2 spare bits: flipping them decodes to the same 32 bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(mac.at(-1) ?? '');
    const respelled = `${user.refreshToken.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(respelled.split('.').at(-1) ?? '', 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
    expect((await refresh(respelled)).response.status).toBe(401);
    expect((await refresh(user.refreshToken)).response.status).toBe(200);
  });

  it('a zero-padded counter is another spelling of the same token, and is refused without ending the session', async () => {
    const user = await auth.newUser();
    const next = dataOf(await refresh(user.refreshToken));
    const [v, sid, counter, mac] = next.refresh_token.split('.');
    expect(counter).toBe('1');
    const session = () => auth.sql('select * from auth.sessions where user_id = $1', [user.id]);
    const before = await session();
    for (const padded of [`0${counter}`, `00${counter}`, `00000000${counter}`]) {
      const res = await refresh(`${v}.${sid}.${padded}.${mac}`);
      expect(res.response.status, padded).toBe(401);
      expect(res.error, padded).toMatchObject({ type: expect.stringMatching(/invalid-grant$/) });
    }
    // Not a replay: the session is as it was, and the token as issued still works.
    expect(await session()).toEqual(before);
    expect((await refresh(next.refresh_token)).response.status).toBe(200);
  });

  it('garbage, an unknown session and a missing field are refused cleanly', async () => {
    expect((await refresh('garbage')).response.status).toBe(401);
    expect(
      (await refresh(`v1.${crypto.randomUUID()}.0.${Buffer.alloc(32).toString('base64url')}`)).response.status,
    ).toBe(401);
    // Without the field the spec requires: the raw client.
    expect((await auth.http.post('/auth/refresh', {})).status).toBe(422);
  });

  it('a session ends after its absolute lifetime and after inactivity', async () => {
    const stale = await auth.newUser();
    await auth.sql(`update auth.sessions set last_active_at = now() - make_interval(secs => $2) where user_id = $1`, [
      stale.id,
      auth.config.SESSION_IDLE_TIMEOUT_SECONDS + 1,
    ]);
    expect((await refresh(stale.refreshToken)).response.status).toBe(401);

    const old = await auth.newUser();
    await auth.sql(`update auth.sessions set expires_at = now() - interval '1 second' where user_id = $1`, [old.id]);
    const res = await refresh(old.refreshToken);
    expect(res.response.status).toBe(401);
    expect(res.error).toMatchObject({ detail: expect.stringMatching(/ended/) });
  });
});

describe('ended sessions do not pile up', () => {
  let auth: AuthHarness;
  let orm: MikroORM;
  beforeAll(async () => {
    auth = await startAuth();
    orm = await ormOn(authService, auth.database.url);
  });
  afterAll(async () => {
    await orm?.close();
    await auth?.stop();
  });

  it('sessions that ended more than 30 days ago are swept; live and recently ended ones stay', async () => {
    const [live, recent, old, idle] = await Promise.all([
      auth.newUser(),
      auth.newUser(),
      auth.newUser(),
      auth.newUser(),
    ]);
    await auth.client.POST('/auth/logout', { headers: bearer(recent.accessToken) });
    await auth.sql(
      `update auth.sessions set revoked_at = now() - interval '31 days', revoked_reason = 'logout' where user_id = $1`,
      [old.id],
    );
    await auth.sql(`update auth.sessions set last_active_at = now() - interval '38 days' where user_id = $1`, [
      idle.id,
    ]);

    const sessions = {
      lifetimeSeconds: auth.config.SESSION_LIFETIME_SECONDS,
      idleTimeoutSeconds: auth.config.SESSION_IDLE_TIMEOUT_SECONDS,
      reuseIntervalSeconds: auth.config.REFRESH_REUSE_INTERVAL_SECONDS,
    };
    const swept = await sweepEndedSessions({ sessions }, orm.em.fork());
    expect(swept).toBe(2);
    const left = await auth.sql('select user_id from auth.sessions');
    expect(left.map((r) => r.user_id).sort()).toEqual([live.id, recent.id].sort());
  });
});
