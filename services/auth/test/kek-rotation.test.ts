import { createHash } from 'node:crypto';
import { bearer } from '@todo/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KekRing, sessionSecretContext } from '../src/keys/key-encryption.ts';
import { type AuthPlace, type AuthService, authPlace, newKek, sealV1 } from './support/auth-restarts.ts';

/** The id a sealed value of the current format carries for the KEK that sealed it. */
const kekId = (kek: string) => createHash('sha256').update(Buffer.from(kek, 'base64')).digest().subarray(0, 8);

/** Every sealed value in the database, named. */
async function sealedValues(place: AuthPlace): Promise<Map<string, Buffer>> {
  const keys = await place.sql('select kid, private_jwk_sealed as sealed from auth.signing_keys');
  const sessions = await place.sql('select id, secret_sealed as sealed from auth.sessions');
  return new Map([
    ...keys.map((r) => [`signing key ${r.kid}`, r.sealed as Buffer] as const),
    ...sessions.map((r) => [`session ${r.id}`, r.sealed as Buffer] as const),
  ]);
}

const sealedWith = (values: Map<string, Buffer>) =>
  [...values.values()].map((v) => (v[0] === 2 ? v.subarray(1, 9).toString('hex') : `v${v[0]}`));

const refresh = (auth: AuthService, refreshToken: string) =>
  auth.client.POST('/auth/refresh', { body: { refresh_token: refreshToken } });
const me = (auth: AuthService, accessToken: string) => auth.client.GET('/auth/me', { headers: bearer(accessToken) });

describe('a rolling KEK rotation', () => {
  const [a, b] = [newKek(), newKek()];
  let place: AuthPlace;
  beforeAll(async () => {
    place = await authPlace();
  });
  afterAll(() => place?.remove());

  it('replicas that disagree on which KEK seals each open what the other sealed: nobody is logged out', async () => {
    const before = await place.start({ AUTH_KEK: a });
    const ann = await before.newUser();
    await before.stop();

    // The safe order: first every replica learns the new KEK (A seals, B opens), then the roles swap.
    const learning = await place.start({ AUTH_KEK: a, AUTH_KEK_PREVIOUS: b });
    const swapped = await place.start({ AUTH_KEK: b, AUTH_KEK_PREVIOUS: a });
    try {
      const onSwapped = await swapped.logIn(ann.email, ann.password);
      const [sealedByB] = await place.sql('select secret_sealed from auth.sessions where id = $1', [
        decodeJwt(onSwapped.access_token).sid,
      ]);
      const sealed = sealedByB?.secret_sealed as Buffer | undefined;
      expect(sealed?.subarray(0, 9).toString('hex')).toBe(`02${kekId(b).toString('hex')}`);

      expect((await refresh(learning, onSwapped.refresh_token)).response.status).toBe(200);
      expect((await refresh(swapped, ann.refreshToken)).response.status).toBe(200);
      for (const replica of [learning, swapped]) {
        expect((await me(replica, ann.accessToken)).response.status).toBe(200);
        expect((await me(replica, onSwapped.access_token)).response.status).toBe(200);
      }
    } finally {
      await learning.stop();
      await swapped.stop();
    }
  });

  it('a replica not yet told of the new KEK answers a refresh it cannot open with 503 and Retry-After, and spends nothing', async () => {
    const old = await place.start({ AUTH_KEK: a });
    const updated = await place.start({ AUTH_KEK: b, AUTH_KEK_PREVIOUS: a });
    try {
      const bob = await updated.newUser();
      const refused = await refresh(old, bob.refreshToken);
      expect(refused.response.status).toBe(503);
      expect(refused.error).toMatchObject({ type: 'tag:todo-platform,2026:problems/kek-unavailable' });
      expect(Number(refused.response.headers.get('retry-after'))).toBeGreaterThan(0);
      // The token was not spent: the updated replica refreshes it as if nothing happened.
      expect((await refresh(updated, bob.refreshToken)).response.status).toBe(200);
    } finally {
      await old.stop();
      await updated.stop();
    }
  });
});

describe('the rewrap command', () => {
  const [a, b, c] = [newKek(), newKek(), newKek()];
  let place: AuthPlace;
  beforeAll(async () => {
    place = await authPlace();
    const auth = await place.start({ AUTH_KEK: a });
    await auth.newUser();
    await auth.newUser();
    await auth.stop();
  });
  afterAll(() => place?.remove());

  it('refuses, and changes nothing, when a value opens under neither key of the ring', async () => {
    const stored = await sealedValues(place);
    const kid = [...stored.keys()].find((k) => k.startsWith('signing key'));

    const neither = await place.run('keys-rewrap', { AUTH_KEK: b, AUTH_KEK_PREVIOUS: c });
    expect(neither.code).toBe(1);
    expect(neither.output).toMatch(/refusing to rewrap, nothing was changed: 3 sealed value\(s\) open under no KEK/);
    expect(neither.output).toContain(kid);
    expect(await sealedValues(place)).toEqual(stored);

    // One session secret damaged among good values: the good ones are not rewrapped either.
    const [victim] = await place.sql('select id from auth.sessions order by id limit 1');
    await place.sql(
      'update auth.sessions set secret_sealed = set_byte(secret_sealed, 29, get_byte(secret_sealed, 29) # 1) where id = $1',
      [victim?.id],
    );
    const damaged = await sealedValues(place);
    const one = await place.run('keys-rewrap', { AUTH_KEK: b, AUTH_KEK_PREVIOUS: a });
    expect(one.code).toBe(1);
    expect(one.output).toMatch(/1 sealed value\(s\) open under no KEK of the ring: session [0-9a-f-]+ does not open/);
    expect(one.output).toContain(String(victim?.id));
    expect(await sealedValues(place)).toEqual(damaged);
  });

  it('moves values of the first format, which name no KEK, to the current one', async () => {
    const fresh = await authPlace();
    try {
      const auth = await fresh.start({ AUTH_KEK: a });
      const ann = await auth.newUser();
      await auth.stop();
      // As a deployment from before KEK ids has them: version 1, sealed with the same KEK.
      const ring = new KekRing(Buffer.from(a, 'base64'));
      for (const [name, value] of await sealedValues(fresh)) {
        const [kind, id] = name.startsWith('session ') ? ['session', name.slice(8)] : ['key', name.slice(12)];
        const context = kind === 'session' ? sessionSecretContext(id) : id;
        const v1 = sealV1(Buffer.from(a, 'base64'), ring.unseal(value, context), context);
        if (kind === 'session') await fresh.sql('update auth.sessions set secret_sealed = $2 where id = $1', [id, v1]);
        else await fresh.sql('update auth.signing_keys set private_jwk_sealed = $2 where kid = $1', [id, v1]);
      }
      expect(new Set(sealedWith(await sealedValues(fresh)))).toEqual(new Set(['v1']));

      const done = await fresh.run('keys-rewrap', { AUTH_KEK: a });
      expect(done.code, done.output).toBe(0);
      expect(done.output).toMatch(/"rewrapped":2\b/);
      expect(new Set(sealedWith(await sealedValues(fresh)))).toEqual(new Set([kekId(a).toString('hex')]));
      const again = await fresh.run('keys-rewrap', { AUTH_KEK: a });
      expect(again.output).toMatch(/"rewrapped":0,.*"alreadyCurrent":2/);

      const after = await fresh.start({ AUTH_KEK: a });
      try {
        expect((await refresh(after, ann.refreshToken)).response.status).toBe(200);
        expect((await me(after, ann.accessToken)).response.status).toBe(200);
      } finally {
        await after.stop();
      }
    } finally {
      await fresh.remove();
    }
  });
});

describe('a replica refuses to start, in one line, with a KEK ring that cannot work', () => {
  const [a, b, c] = [newKek(), newKek(), newKek()];
  let place: AuthPlace;
  let kid: string;
  beforeAll(async () => {
    place = await authPlace();
    const auth = await place.start({ AUTH_KEK: a });
    kid = auth.service.keys.active().kid;
    await auth.stop();
  });
  afterAll(() => place?.remove());

  const startUpError = (env: Record<string, string>) =>
    place.start(env).then(
      async (started) => {
        await started.stop();
        return 'started';
      },
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );

  it('AUTH_KEK_PREVIOUS equal to AUTH_KEK', async () => {
    const message = await startUpError({ AUTH_KEK: a, AUTH_KEK_PREVIOUS: a });
    expect(message).toMatch(/^Invalid configuration: AUTH_KEK_PREVIOUS must differ from AUTH_KEK/);
    expect(message).not.toContain('\n');
  });

  it.each([
    ['neither key opens the active signing key', { AUTH_KEK: b, AUTH_KEK_PREVIOUS: c }],
    ['the previous key was removed before the rewrap', { AUTH_KEK: b }],
  ])('%s', async (_, env) => {
    const message = await startUpError(env);
    expect(message).toMatch(
      new RegExp(`^AUTH_KEK cannot decrypt signing key ${kid}: .*sealed with KEK ${kekId(a).toString('hex')}`),
    );
    expect(message).not.toContain('\n');
  });
});
