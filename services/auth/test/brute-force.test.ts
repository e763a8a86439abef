import { bearer, metric } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

/** `auth_password_checks_total{kind="login"}`: how many argon2 checks logins have run. */
const passwordChecks = async (auth: AuthHarness): Promise<number> =>
  metric((await auth.ops.get('/metrics')).text, 'auth_password_checks_total', { kind: 'login' });

/** A request as it reaches the service through one trusted proxy from `client`. */
const from = (client: string) => ({ headers: { 'x-forwarded-for': client } });

describe('password guessing is limited before any password is checked', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    // The per-account limit is set out of the way here: this story is about one email from one client.
    auth = await startAuth({ env: { TRUST_PROXY_HOPS: '1', LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: '1000' } });
  });
  afterAll(() => auth?.stop());

  const login = (email: string, password: string, client = '198.51.100.7') =>
    auth.client.POST('/auth/login', { body: { email, password }, ...from(client) });

  it('200 concurrent wrong passwords for one email from one client run at most 10 password checks; the rest are 429', async () => {
    const user = await auth.newUser();
    const before = await passwordChecks(auth);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => login(user.email, `wrong ${i}`)));
    const statuses = answers.map((a) => a.response.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect((await passwordChecks(auth)) - before).toBeLessThanOrEqual(10);
    const refused = answers.find((a) => a.response.status === 429)?.response;
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
    // Refused while the burst was still being checked or once it was blocked, the wait told is the block's
    // (LOGIN_BLOCK_SECONDS, 15 min), when a retry can succeed: not the rest of the pair's day-long count.
    const waits = answers.filter((a) => a.response.status === 429).map((a) => a.response.headers.get('retry-after'));
    expect(Math.max(...waits.map(Number))).toBeLessThanOrEqual(900);
    expect(refused?.headers.get('ratelimit-policy')).toContain('"login-pair";q=10');
    // Even the right password waits for the block to end.
    expect((await login(user.email, user.password)).response.status).toBe(429);
  });

  it('the block is per email and client: the same account from another client, and another account, still log in', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 10; i++) await login(user.email, `wrong ${i}`);
    expect((await login(user.email, user.password, '198.51.100.8')).response.status).toBe(200);
    const other = await auth.newUser();
    expect((await login(other.email, other.password)).response.status).toBe(200);
  });

  it('a successful login resets the count of consecutive failures, and answers with the RateLimit headers', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 9; i++) expect((await login(user.email, 'wrong wrong wrong')).response.status).toBe(401);
    const ok = await login(user.email, user.password);
    expect(ok.response.status).toBe(200);
    expect(ok.response.headers.get('ratelimit-policy')).toMatch(
      /"login-pair";q=10;w=\d+, "login-account";q=1000;w=60, "login-client";q=200;w=3600/,
    );
    expect(ok.response.headers.get('ratelimit')).toMatch(/"login-pair";r=\d+;t=\d+/);
    for (let i = 0; i < 9; i++) expect((await login(user.email, 'wrong wrong wrong')).response.status).toBe(401);
    expect((await login(user.email, user.password)).response.status).toBe(200);
  });

  it('an IPv6 client counts by its /64: another address in it is the same client, another /64 is not', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 10; i++) await login(user.email, `wrong ${i}`, `2001:db8:1:2::${i + 1}`);
    expect((await login(user.email, user.password, '2001:db8:1:2:ffff::1')).response.status).toBe(429);
    expect((await login(user.email, user.password, '2001:db8:1:3::1')).response.status).toBe(200);
  });

  it('behind one trusted proxy, addresses a client writes into X-Forwarded-For itself do not make it a new client', async () => {
    const user = await auth.newUser();
    // The proxy appends the address it saw (the last entry); whatever is left of it came from the client.
    for (let i = 0; i < 10; i++) await login(user.email, `wrong ${i}`, `10.0.0.${i}, 198.51.100.20`);
    expect((await login(user.email, user.password, '10.9.9.9, 198.51.100.20')).response.status).toBe(429);
    expect((await login(user.email, user.password, '198.51.100.20, 198.51.100.21')).response.status).toBe(200);
  });

  it('unknown emails count the same as wrong passwords, so probing for accounts is limited too', async () => {
    for (let i = 0; i < 10; i++) await login('ghost@example.com', `guess ${i}`);
    expect((await login('ghost@example.com', 'guess')).response.status).toBe(429);
  });

  it('ten wrong current passwords on a signed-in account block further password checks', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 10; i++) {
      const res = await auth.client.PUT('/auth/me/password', {
        body: { currentPassword: `wrong ${i}`, newPassword: 'another long passphrase' },
        headers: bearer(user.accessToken),
      });
      expect(res.response.status).toBe(403);
    }
    const blocked = await auth.client.DELETE('/auth/me', {
      body: { password: user.password },
      headers: bearer(user.accessToken),
    });
    expect(blocked.response.status).toBe(429);
    expect(blocked.response.headers.get('ratelimit-policy')).toContain('"password-check"');
  });
});

describe('guessing one account from many clients slows down, and its owner gets in after a short wait', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth({
      env: {
        TRUST_PROXY_HOPS: '1',
        LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: '5',
        LOGIN_ACCOUNT_WINDOW_SECONDS: '2',
        LOGIN_ACCOUNT_MAX_DELAY_SECONDS: '2',
      },
    });
  });
  afterAll(() => auth?.stop());

  it('50 clients guessing at once run at most 5 checks; the owner, from another client, logs in once the delay passes', async () => {
    const user = await auth.newUser();
    const before = await passwordChecks(auth);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        auth.client.POST('/auth/login', {
          body: { email: user.email, password: `guess ${i}` },
          ...from(`203.0.113.${i + 1}`),
        }),
      ),
    ).then((all) => all.map((a) => a.response));
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(45);
    expect((await passwordChecks(auth)) - before).toBeLessThanOrEqual(5);
    const waits = answers.filter((a) => a.status === 429).map((a) => Number(a.headers.get('retry-after')));
    expect(Math.max(...waits)).toBeLessThanOrEqual(2);

    await vi.waitFor(
      async () => {
        const res = await auth.client.POST('/auth/login', {
          body: { email: user.email, password: user.password },
          ...from('192.0.2.99'),
        });
        expect(res.response.status).toBe(200);
      },
      { timeout: 10_000, interval: 500 },
    );
  });
});

describe('a slow guessing campaign against one account never locks its owner out', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    // Short windows and delays, so that the account's blocks grow within seconds as they would within minutes.
    auth = await startAuth({
      env: {
        TRUST_PROXY_HOPS: '1',
        LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: '1',
        LOGIN_ACCOUNT_WINDOW_SECONDS: '1',
        LOGIN_ACCOUNT_MAX_DELAY_SECONDS: '4',
      },
    });
  });
  afterAll(() => auth?.stop());

  it('while guesses from ever-new addresses keep the account blocked, the owner logs in at once from an address they logged in from before; unknown addresses, even with the right password, are refused', async () => {
    const user = await auth.newUser();
    const login = (password: string, client: string) =>
      auth.client.POST('/auth/login', { body: { email: user.email, password }, ...from(client) });
    const home = '192.0.2.10';
    let addresses = 0;
    /** An address this account has never seen (198.18.0.0/15, for benchmarks). */
    const unknownAddress = () => {
      addresses++;
      return `198.18.${Math.floor(addresses / 250)}.${(addresses % 250) + 1}`;
    };
    expect((await login(user.password, home)).response.status).toBe(200);

    // The campaign: a guess from a new address, again from another while the account refuses, until one is
    // checked; four checked guesses make the account's block grow to LOGIN_ACCOUNT_MAX_DELAY_SECONDS. The
    // owner logs in from home before every guess.
    const atHome: number[] = [];
    let refusedGuesses = 0;
    for (let checked = 0; checked < 4; checked++) {
      await vi.waitFor(
        async () => {
          atHome.push((await login(user.password, home)).response.status);
          const guess = await login(`guess ${addresses}`, unknownAddress());
          if (guess.response.status === 429) refusedGuesses++;
          expect(guess.response.status).toBe(401);
        },
        { timeout: 15_000, interval: 100 },
      );
    }
    expect(refusedGuesses).toBeGreaterThan(0);
    expect(new Set(atHome)).toEqual(new Set([200]));

    // The account is blocked now (about 4 s since the last checked guess): the owner still gets in at once
    // from home, again and again, while every unknown address waits, whichever password it brings.
    for (let i = 0; i < 3; i++) expect((await login(user.password, home)).response.status).toBe(200);
    for (const password of ['another guess', user.password]) {
      const refused = (await login(password, unknownAddress())).response;
      expect(refused.status).toBe(429);
      expect(refused.headers.get('ratelimit-policy')).toContain('"login-account"');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(4);
    }
  });

  it('a password change ends every exemption: an intruder who got in with the old password is slowed like any other client', async () => {
    const user = await auth.newUser();
    const login = (password: string, client: string) =>
      auth.client.POST('/auth/login', { body: { email: user.email, password }, ...from(client) });
    const intruder = '192.0.2.66';
    expect((await login(user.password, intruder)).response.status).toBe(200);
    const changed = await auth.client.PUT('/auth/me/password', {
      body: { currentPassword: user.password, newPassword: 'a new passphrase nobody else knows' },
      headers: bearer(user.accessToken),
    });
    expect(changed.response.status).toBe(204);

    // A checked guess from elsewhere uses up the account's window (tried again should the window turn between
    // the two requests); the intruder's address, known to the account before the change, now counts against
    // it too, so the account limit refuses it. Were it still exempt, it would never meet that limit.
    let guesses = 0;
    await vi.waitFor(
      async () => {
        guesses++;
        expect((await login('a guess', `198.19.0.${guesses}`)).response.status).toBe(401);
        const refused = (await login(user.password, intruder)).response;
        expect(refused.status).toBe(429);
        expect(refused.headers.get('ratelimit-policy')).toContain('"login-account"');
      },
      { timeout: 15_000, interval: 100 },
    );
  });
});

describe('per-client limits are sized for many people behind one address', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth({
      env: {
        TRUST_PROXY_HOPS: '1',
        LOGIN_MAX_FAILURES_PER_CLIENT_PER_HOUR: '5',
        REGISTER_MAX_PER_IP_PER_HOUR: '3',
        REFRESH_MAX_PER_SESSION_PER_MINUTE: '3',
      },
    });
  });
  afterAll(() => auth?.stop());

  it('a client that fails too often is refused for every email until the hour ends; other clients are not', async () => {
    const login = (email: string, client: string) =>
      auth.client.POST('/auth/login', { body: { email, password: 'guess' }, ...from(client) });
    for (let i = 0; i < 5; i++) await login(`nobody-${i}@example.com`, '198.51.100.50');
    const res = await login('someone@example.com', '198.51.100.50');
    expect(res.response.status).toBe(429);
    expect(Number(res.response.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
    const elsewhere = await login('someone@example.com', '198.51.100.51');
    expect(elsewhere.response.status).toBe(401);
  });

  it('successful logins do not count against the client', async () => {
    const user = await auth.newUser();
    for (let i = 0; i < 8; i++) {
      const res = await auth.client.POST('/auth/login', {
        body: { email: user.email, password: user.password },
        ...from('198.51.100.60'),
      });
      expect(res.response.status).toBe(200);
    }
  });

  it('registrations per client are limited', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await auth.client.POST('/auth/register', {
        body: { email: `reg-${i}-${Date.now()}@example.com`, password: 'a long enough password' },
        ...from('198.51.100.70'),
      });
      statuses.push(res.response.status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it('refreshes per session are limited', async () => {
    const user = await auth.newUser();
    let token = user.refreshToken;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await auth.client.POST('/auth/refresh', { body: { refresh_token: token } });
      statuses.push(res.response.status);
      if (res.data) token = res.data.refresh_token;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('the limits hold across replicas', () => {
  let first: AuthHarness;
  let second: AuthHarness;
  beforeAll(async () => {
    first = await startAuth({ env: { LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: '1000' } });
    // Another replica of the same deployment: same database, so the same counters.
    second = await startAuth({
      replicaOf: first,
      env: { AUTH_KEK: first.config.AUTH_KEK.toString('base64'), LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: '1000' },
    });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('failures spread over two replicas add up, and either replica then refuses with 429', async () => {
    const user = await first.newUser();
    for (let i = 0; i < 10; i++) {
      const replica = i % 2 === 0 ? first : second;
      const res = await replica.client.POST('/auth/login', { body: { email: user.email, password: `wrong ${i}` } });
      expect(res.response.status).toBe(401);
    }
    for (const replica of [first, second]) {
      const res = await replica.client.POST('/auth/login', { body: { email: user.email, password: user.password } });
      expect(res.response.status).toBe(429);
    }
  });
});
