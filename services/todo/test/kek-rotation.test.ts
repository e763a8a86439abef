import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { authService } from '@todo/auth-service/definition';
import { buildAuthService } from '@todo/auth-service/service';
import {
  accountsOn,
  bearer,
  cloneDatabase,
  dataOf,
  removeStreams,
  runScript,
  startTestService,
  type TestDatabase,
  uniqueName,
} from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { todoService } from '../src/definition.ts';
import { buildTodoService } from '../src/service.ts';

const REWRAP_CLI = fileURLToPath(new URL('../../auth/src/keys-rewrap.ts', import.meta.url));

const newKek = () => randomBytes(32).toString('base64');
/** The KEK id a sealed value of the current format carries: the first 8 bytes of the KEK's SHA-256. */
const kekId = (kek: string) => createHash('sha256').update(Buffer.from(kek, 'base64')).digest().subarray(0, 8);

const rewrap = (env: Record<string, string>) => runScript(REWRAP_CLI, env);

describe('rotating the KEK with live sessions logs nobody out', () => {
  const [oldKek, nextKek] = [newKek(), newKek()];
  let database: TestDatabase;
  const nats = { url: inject('natsUrl') };
  const eventsNamespace = uniqueName('ns');

  const startAuth = async (env: Record<string, string>) => {
    const auth = await startTestService(authService, buildAuthService, {
      api: 'auth',
      database,
      nats,
      eventsNamespace,
      env: { JWT_ISSUER: 'http://auth.test', JWT_AUDIENCE: 'todo-api', ...env },
    });
    return { ...auth, ...accountsOn(auth.client) };
  };

  /** Every sealed value in the auth schema, as stored. */
  const sealedValues = async (auth: Awaited<ReturnType<typeof startAuth>>) =>
    [
      ...(await auth.sql('select private_jwk_sealed as v from auth.signing_keys')),
      ...(await auth.sql('select secret_sealed as v from auth.sessions')),
    ].map((r) => r.v as Buffer);

  beforeAll(async () => {
    database = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  });
  afterAll(async () => {
    await database?.drop();
    await removeStreams(nats.url, eventsNamespace);
  });

  it('the old refresh token refreshes, the old access token verifies, nothing stays under the old KEK', async () => {
    const before = await startAuth({ AUTH_KEK: oldKek });
    const ann = await before.newUser();
    await before.stop();

    // Step 2 of the runbook: every replica seals with the new KEK and still opens the old one's values.
    const rollingOut = await startAuth({ AUTH_KEK: nextKek, AUTH_KEK_PREVIOUS: oldKek });
    expect((await rollingOut.client.GET('/auth/me', { headers: bearer(ann.accessToken) })).response.status).toBe(200);
    const done = await rewrap({ DATABASE_URL: database.url, AUTH_KEK: nextKek, AUTH_KEK_PREVIOUS: oldKek });
    expect(done.code, done.output).toBe(0);
    expect(done.output).toMatch(/"rewrapped":2\b/);
    const stored = await sealedValues(rollingOut);
    expect(stored.map((v) => `v${v[0]} ${v.subarray(1, 9).toString('hex')}`)).toEqual(
      stored.map(() => `v2 ${kekId(nextKek).toString('hex')}`),
    );
    await rollingOut.stop();

    // Step 4: the old KEK is gone from the configuration.
    const after = await startAuth({ AUTH_KEK: nextKek });
    const todo = await startTestService(todoService, buildTodoService, {
      api: 'todo',
      database,
      nats,
      eventsNamespace,
      env: {
        AUTH_JWKS_URL: `${after.url}/.well-known/jwks.json`,
        JWT_ISSUER: 'http://auth.test',
        JWT_AUDIENCE: 'todo-api',
      },
    });
    try {
      const refreshed = await after.client.POST('/auth/refresh', { body: { refresh_token: ann.refreshToken } });
      expect(refreshed.response.status).toBe(200);
      expect((await after.client.GET('/auth/me', { headers: bearer(ann.accessToken) })).response.status).toBe(200);
      expect((await todo.client.GET('/todos', { headers: bearer(ann.accessToken) })).response.status).toBe(200);
      expect(
        (await todo.client.GET('/todos', { headers: bearer(dataOf(refreshed).access_token) })).response.status,
      ).toBe(200);
      const again = await rewrap({ DATABASE_URL: database.url, AUTH_KEK: nextKek });
      expect(again.output).toMatch(/"rewrapped":0\b/);
    } finally {
      await todo.stop();
      await after.stop();
    }
  });
});
