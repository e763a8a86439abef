import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { bearer, runScript } from '@todo/testkit';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startAuthReplica, startStack } from './support/stack.ts';

const ROTATE_CLI = fileURLToPath(new URL('../../auth/src/keys-rotate.ts', import.meta.url));

/** Short timings so that a whole rotation happens within seconds; the proportions are the production ones. */
const TIMING = {
  JWKS_MAX_AGE_SECONDS: '2',
  SIGNING_KEY_RELOAD_SECONDS: '1',
  SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '4',
};

/** The loop below refreshes one session about ten times a second: far above the production per-minute limit. */
const REFRESH_LIMIT = { REFRESH_MAX_PER_SESSION_PER_MINUTE: '100000' };

const rotateKeys = (env: Record<string, string>) => runScript(ROTATE_CLI, env);

describe('rotating the signing key while traffic runs rejects no valid token', () => {
  const kek = randomBytes(32).toString('base64');
  let stack: Stack;
  let replica: Awaited<ReturnType<typeof startAuthReplica>>;

  beforeAll(async () => {
    stack = await startStack({
      authEnv: { ...TIMING, ...REFRESH_LIMIT, AUTH_KEK: kek },
      // The verifier caches no longer than the JWKS says, and an unknown kid cannot trigger a refetch within
      // the test: every new key must already be known from the regular refresh, as it is in production.
      todoEnv: { JWKS_CACHE_MAX_AGE_SECONDS: TIMING.JWKS_MAX_AGE_SECONDS, JWKS_COOLDOWN_SECONDS: '600' },
    });
    // A second auth replica on the same database and KEK: any replica signs, every token verifies everywhere.
    replica = await startAuthReplica(stack, { ...TIMING, ...REFRESH_LIMIT, AUTH_KEK: kek });
  });
  afterAll(async () => {
    await replica?.stop();
    await stack?.stop();
  });

  it('zero 401s across a rotation, tokens of the new key verify, tokens of the old key keep working', async () => {
    const user = await stack.auth.newUser();
    const oldKid = decodeProtectedHeader(user.accessToken).kid;
    const replicas = [stack.auth, replica];
    let refreshToken = user.refreshToken;
    const statuses: number[] = [];
    const kidsAccepted = new Set<string>();
    let rotation: ReturnType<typeof rotateKeys> | undefined;
    let newKid: string | undefined;

    const started = Date.now();
    for (let i = 0; ; i++) {
      // Alternate replicas for refreshes, and always use the newest access token against the todo API.
      const refreshed = await replicas[i % 2]?.client.POST('/auth/refresh', {
        body: { refresh_token: refreshToken },
      });
      expect(refreshed?.response.status).toBe(200);
      if (!refreshed?.data) break;
      refreshToken = refreshed.data.refresh_token;
      const kid = decodeProtectedHeader(refreshed.data.access_token).kid as string;
      const res = await stack.client.GET('/todos', { headers: bearer(refreshed.data.access_token) });
      statuses.push(res.response.status);
      if (res.response.status === 200) kidsAccepted.add(kid);

      if (!rotation && Date.now() - started > 500) {
        rotation = rotateKeys({
          DATABASE_URL: stack.auth.database.url,
          AUTH_KEK: kek,
          NATS_URL: stack.auth.config.NATS_URL,
          ...TIMING,
        });
        const done = await rotation;
        expect(done.code, done.output).toBe(0);
        newKid = /"added":"([^"]+)"/.exec(done.output)?.[1];
        expect(newKid).toBeDefined();
      }
      if (newKid && kidsAccepted.has(newKid) && Date.now() - started > 8_000) break;
      if (Date.now() - started > 20_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(kidsAccepted.has(oldKid as string)).toBe(true);
    expect(newKid && kidsAccepted.has(newKid)).toBe(true);
    // The first access token, signed by the retired key, is still good until it expires.
    expect((await stack.client.GET('/todos', { headers: bearer(user.accessToken) })).response.status).toBe(200);
    const jwks = await stack.auth.client.GET('/.well-known/jwks.json');
    expect(jwks.data?.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
  });

  it('the rotation CLI refuses a KEK that cannot open the current keys', async () => {
    const done = await rotateKeys({
      DATABASE_URL: stack.auth.database.url,
      AUTH_KEK: randomBytes(32).toString('base64'),
      ...TIMING,
    });
    expect(done.code).toBe(1);
    expect(done.output).toMatch(/AUTH_KEK cannot decrypt signing key/);
    const [keys] = await stack.auth.sql('select count(*)::int as n from auth.signing_keys');
    expect(keys?.n).toBe(2);
  });
});
