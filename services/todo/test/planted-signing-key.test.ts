import { createCipheriv, randomBytes } from 'node:crypto';
import { bearer } from '@todo/testkit';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

/** Sealed as the service seals (AES-256-GCM, the kid as associated data), but with a KEK the service does not have. */
function sealWithForeignKek(plaintext: Buffer, kid: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), nonce);
  cipher.setAAD(Buffer.from(kid));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(1), nonce, cipher.getAuthTag(), ciphertext]);
}

describe('a signing key planted in the auth database does not open the todos', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it('a token signed with the planted key is refused by the todo service, and the key is not in the JWKS', async () => {
    const user = await stack.auth.newUser();
    const genuineKid = stack.auth.service.keys.active().kid;
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const sealed = sealWithForeignKek(Buffer.from(JSON.stringify(await exportJWK(privateKey))), kid);
    await stack.auth.sql(
      `insert into auth.signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at, activates_at)
       values ($1, 'ES256', $2, $3, now(), now() - interval '1 second')`,
      [kid, JSON.stringify(publicJwk), sealed],
    );
    // What the periodic reload does: the auth service has now read the planted row.
    await stack.auth.service.keys.reload();

    const jwks = await stack.auth.client.GET('/.well-known/jwks.json');
    expect(jwks.data?.keys.map((k) => k.kid)).toEqual([genuineKid]);
    const { sub, sid } = decodeJwt(user.accessToken);
    const forged = await new SignJWT({ sid, client_id: 'todo-web' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(stack.auth.config.JWT_ISSUER)
      .setAudience(stack.auth.config.JWT_AUDIENCE)
      .setSubject(String(sub))
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(crypto.randomUUID())
      .sign(privateKey);

    expect((await stack.client.GET('/todos', { headers: bearer(forged) })).response.status).toBe(401);
    expect((await stack.auth.client.GET('/auth/me', { headers: bearer(forged) })).response.status).toBe(401);
    expect((await stack.client.GET('/todos', { headers: bearer(user.accessToken) })).response.status).toBe(200);
  });
});
