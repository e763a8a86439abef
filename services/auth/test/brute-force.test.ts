import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

describe('password guessing is limited, across replicas, with Retry-After', () => {
  let auth: AuthHarness;
  let tightAuth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
    // A second deployment with small limits, for the limits whose defaults take long to reach.
    tightAuth = await startAuth({
      env: {
        LOGIN_MAX_FAILURES_PER_IP_PER_DAY: '5',
        REGISTER_MAX_PER_IP_PER_HOUR: '3',
        REFRESH_MAX_PER_SESSION_PER_MINUTE: '3',
      },
    });
  });
  afterAll(async () => {
    await auth?.stop();
    await tightAuth?.stop();
  });

  const login = (a: AuthHarness, email: string, password: string) => a.http.post('/auth/login', { email, password });

  it('after 10 wrong passwords for one email from one IP, the 11th attempt is a 429, even with the right password', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 10; i++) expect((await login(auth, user.email, `wrong password ${i}`)).status).toBe(401);

    const blocked = await login(auth, user.email, user.password);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(auth.config.LOGIN_BLOCK_SECONDS - 60);
    expect(retryAfter).toBeLessThanOrEqual(auth.config.LOGIN_BLOCK_SECONDS);
    expect(blocked.body).toMatchObject({ status: 429, type: expect.stringMatching(/rate-limited$/) });
  });

  it('the block is per email: another account from the same IP can still log in', async () => {
    const other = await auth.newUser();
    expect((await login(auth, other.email, other.password)).status).toBe(200);
  });

  it('a successful login resets the count of consecutive failures', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 9; i++) await login(auth, user.email, 'wrong wrong wrong');
    expect((await login(auth, user.email, user.password)).status).toBe(200);
    for (let i = 0; i < 9; i++) expect((await login(auth, user.email, 'wrong wrong wrong')).status).toBe(401);
    expect((await login(auth, user.email, user.password)).status).toBe(200);
  });

  it('unknown emails count the same as wrong passwords, so probing for accounts is limited too', async () => {
    for (let i = 0; i < 10; i++) await login(auth, 'ghost@example.com', `guess ${i}`);
    expect((await login(auth, 'ghost@example.com', 'guess')).status).toBe(429);
  });

  it('an IP that fails too often in a day is blocked for every email', async () => {
    for (let i = 0; i < 5; i++) await login(tightAuth, `nobody-${i}@example.com`, 'password guess');
    const res = await login(tightAuth, 'someone-else@example.com', 'password guess');
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(3600);
  });

  it('registrations per IP are limited', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await tightAuth.http.post('/auth/register', {
        email: `reg-${i}-${Date.now()}@example.com`,
        password: 'a long enough password',
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it('refreshes per session are limited', async () => {
    await tightAuth.sql('delete from auth.rate_limits');
    const email = `refresher-${Date.now()}@example.com`;
    const password = 'a long enough password';
    expect((await tightAuth.http.post('/auth/register', { email, password })).status).toBe(201);
    let token = (await tightAuth.logIn(email, password)).refresh_token;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await tightAuth.http.post<{ refresh_token: string }>('/auth/refresh', { refresh_token: token });
      statuses.push(res.status);
      if (res.status === 200) token = res.body.refresh_token;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('ten wrong current passwords on a signed-in account block further password checks', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 10; i++) {
      const res = await auth.http.put(
        '/auth/me/password',
        { currentPassword: `wrong ${i}`, newPassword: 'another long passphrase' },
        { token: user.accessToken },
      );
      expect(res.status).toBe(403);
    }
    const blocked = await auth.http.delete('/auth/me', { token: user.accessToken, body: { password: user.password } });
    expect(blocked.status).toBe(429);
  });
});

describe('the limits hold across replicas', () => {
  let first: AuthHarness;
  let second: AuthHarness;
  beforeAll(async () => {
    first = await startAuth();
    // Another replica of the same deployment: same database, so the same counters.
    second = await startAuth({ replicaOf: first, env: { AUTH_KEK: first.config.AUTH_KEK.toString('base64') } });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('failures spread over two replicas add up, and either replica then refuses with 429', async () => {
    const user = await first.newUser();
    for (let i = 0; i < 10; i++) {
      const replica = i % 2 === 0 ? first : second;
      expect((await replica.http.post('/auth/login', { email: user.email, password: `wrong ${i}` })).status).toBe(401);
    }
    for (const replica of [first, second]) {
      expect((await replica.http.post('/auth/login', { email: user.email, password: user.password })).status).toBe(429);
    }
  });
});
