import { metric } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

/** The value of one sample of `name` on the ops port's /metrics whose labels include `labels` (0 when absent). */
const sample = async (auth: AuthHarness, name: string, labels: Record<string, string>): Promise<number> =>
  metric((await auth.ops.get('/metrics')).text, name, labels);

const logins = (auth: AuthHarness, outcome: string) => sample(auth, 'auth_logins_total', { outcome });
const refusals = (auth: AuthHarness, policy: string) => sample(auth, 'rate_limit_rejections_total', { policy });

/** A request as it reaches the service through one trusted proxy from `client`. */
const from = (client: string) => ({ 'x-forwarded-for': client });
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('an operator sees in /metrics how logins end and which limits refuse requests', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth({
      env: { TRUST_PROXY_HOPS: '1', LOGIN_MAX_CONSECUTIVE_FAILURES: '2', RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE: '20' },
    });
  });
  afterAll(() => auth?.stop());

  const jsonLogin = (email: string, password: string, client: string) =>
    auth.client.POST('/auth/login', { body: { email, password }, headers: from(client) });
  const oauthLogin = (email: string, password: string, client: string) =>
    auth.http.post('/oauth/token', undefined, {
      raw: new URLSearchParams({ grant_type: 'password', client_id: 'todo-web', username: email, password }).toString(),
      headers: { ...FORM, ...from(client) },
    });

  it('counts each login once by outcome, through /auth/login and /oauth/token alike', async () => {
    const user = await auth.newUser();
    const client = '198.51.100.40';
    const before = {
      success: await logins(auth, 'success'),
      invalid: await logins(auth, 'invalid_credentials'),
      limited: await logins(auth, 'rate_limited'),
      pair: await refusals(auth, 'login-pair'),
    };

    expect((await jsonLogin(user.email, user.password, client)).response.status).toBe(200);
    expect((await oauthLogin(user.email, user.password, client)).status).toBe(200);
    expect((await jsonLogin(user.email, 'not the password', client)).response.status).toBe(401);
    expect((await oauthLogin(user.email, 'not the password', client)).status).toBe(400);
    // Two consecutive failures for this email from this client: the next attempt is refused before any check.
    expect((await jsonLogin(user.email, user.password, client)).response.status).toBe(429);

    expect((await logins(auth, 'success')) - before.success).toBe(2);
    expect((await logins(auth, 'invalid_credentials')) - before.invalid).toBe(2);
    expect((await logins(auth, 'rate_limited')) - before.limited).toBe(1);
    expect((await refusals(auth, 'login-pair')) - before.pair).toBe(1);
  });

  it('counts a request the per-client limit refuses under the policy "client"', async () => {
    const before = await refusals(auth, 'client');
    const answers = [];
    for (let i = 0; i < 21; i++) {
      answers.push((await auth.client.GET('/.well-known/jwks.json', { headers: from('203.0.113.9') })).response.status);
    }
    expect(answers.filter((s) => s === 429)).toHaveLength(1);
    expect((await refusals(auth, 'client')) - before).toBe(1);
  });
});
