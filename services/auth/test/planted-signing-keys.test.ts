import { randomBytes } from 'node:crypto';
import { bearer, capturedLogger } from '@todo/testkit';
import {
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KekRing } from '../src/keys/key-encryption.ts';
import { type AuthPlace, type AuthService, authPlace, newKek, sealV1 } from './support/auth-restarts.ts';

/** An attacker who can write to `auth.signing_keys` but does not hold AUTH_KEK: a key pair of their own. */
async function attackerKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    privateKey,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
    kid: await calculateJwkThumbprint(publicJwk),
  };
}
type AttackerKey = Awaited<ReturnType<typeof attackerKey>>;

/** A token exactly like the service's, for a real user and session, signed with the attacker's key. */
const forgeToken = (key: AttackerKey, kid: string, claims: { sub: string; sid: string }) =>
  new SignJWT({ sid: claims.sid, client_id: 'todo-web' })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer('http://auth.test')
    .setAudience('todo-api')
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime('10m')
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);

const claimsOf = (token: string) => {
  const { sub, sid } = decodeJwt(token);
  return { sub: String(sub), sid: String(sid) };
};

const plant = (place: AuthPlace, key: AttackerKey, sealed: Buffer) =>
  place.sql(
    `insert into auth.signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at, activates_at)
     values ($1, 'ES256', $2, $3, now(), now() - interval '1 second')`,
    [key.kid, JSON.stringify(key.publicJwk), sealed],
  );

const jwkJson = (jwk: JWK) => Buffer.from(JSON.stringify(jwk));

describe('a signing key planted in the database by someone without the KEK is never trusted', () => {
  const kek = newKek();
  let place: AuthPlace;
  let auth: AuthService;
  const logs = capturedLogger('auth');

  beforeAll(async () => {
    place = await authPlace();
    auth = await place.start({ AUTH_KEK: kek, SIGNING_KEY_RELOAD_SECONDS: '1' }, logs.logger);
  });
  afterAll(async () => {
    await auth?.stop();
    await place?.remove();
  });

  const forgeries: [string, (key: AttackerKey, genuineSealed: Buffer) => Buffer][] = [
    [
      'its private key sealed with a KEK of its own',
      (key) => new KekRing(randomBytes(32)).seal(jwkJson(key.privateJwk), key.kid),
    ],
    [
      'its private key sealed in the first format, with a KEK of its own',
      (key) => sealV1(randomBytes(32), jwkJson(key.privateJwk), key.kid),
    ],
    ['its private key in plain text', (key) => jwkJson(key.privateJwk)],
    ["the genuine key's sealed private half copied onto it", (_key, genuineSealed) => genuineSealed],
  ];

  it.each(forgeries)('with %s: not in the JWKS, its tokens refused, the row reported once', async (_, sealedFor) => {
    const user = await auth.newUser();
    const genuineKid = auth.service.keys.active().kid;
    const [genuine] = await place.sql('select private_jwk_sealed from auth.signing_keys where kid = $1', [genuineKid]);
    const attacker = await attackerKey();

    await plant(place, attacker, sealedFor(attacker, genuine?.private_jwk_sealed as Buffer));
    const reports = () => logs.lines.filter((l) => l.level === 'error' && l.kid === attacker.kid);
    // The periodic reload has read the row once it has been reported.
    await vi.waitFor(() => expect(reports()).toHaveLength(1), { timeout: 10_000 });

    const jwks = await auth.client.GET('/.well-known/jwks.json');
    expect(jwks.data?.keys.map((k) => k.kid)).toEqual([genuineKid]);
    const forged = await forgeToken(attacker, attacker.kid, claimsOf(user.accessToken));
    expect((await auth.client.GET('/auth/me', { headers: bearer(forged) })).response.status).toBe(401);

    // The service goes on signing with its own key, and says nothing about the planted one's material.
    const again = await auth.logIn(user.email, user.password);
    expect(decodeProtectedHeader(again.access_token).kid).toBe(genuineKid);
    expect((await auth.client.GET('/auth/me', { headers: bearer(again.access_token) })).response.status).toBe(200);
    expect(auth.service.keys.active().kid).toBe(genuineKid);
    await auth.service.keys.reload();
    await auth.service.keys.reload();
    expect(reports()).toHaveLength(1);
    const logged = JSON.stringify(reports());
    expect(logged).not.toContain(attacker.privateJwk.d);
    expect(logged).not.toContain(kek);
  });
});

describe('when the stored public half of the signing key is swapped for an attacker’s', () => {
  let place: AuthPlace;
  let auth: AuthService;
  const logs = capturedLogger('auth');

  beforeAll(async () => {
    place = await authPlace();
    auth = await place.start({ AUTH_KEK: newKek(), SIGNING_KEY_RELOAD_SECONDS: '1' }, logs.logger);
  });
  afterAll(async () => {
    await auth?.stop();
    await place?.remove();
  });

  it("tokens signed with the attacker's key under the genuine kid are refused, and the key is withdrawn, loudly", async () => {
    const user = await auth.newUser();
    const kid = auth.service.keys.active().kid;
    const attacker = await attackerKey();

    await place.sql('update auth.signing_keys set public_jwk = $2 where kid = $1', [
      kid,
      JSON.stringify(attacker.publicJwk),
    ]);
    await vi.waitFor(() => expect(logs.lines.filter((l) => l.level === 'error' && l.kid === kid)).toHaveLength(1), {
      timeout: 10_000,
    });

    const forged = await forgeToken(attacker, kid, claimsOf(user.accessToken));
    expect((await auth.client.GET('/auth/me', { headers: bearer(forged) })).response.status).toBe(401);
    const jwks = await auth.client.GET('/.well-known/jwks.json');
    expect(jwks.data?.keys).toEqual([]);
  });
});
