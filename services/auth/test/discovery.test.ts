import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

describe('verifiers and gateways discover the keys and endpoints', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  it('the JWKS holds public halves only, and may be cached no longer than a key waits before signing', async () => {
    const res = await auth.client.GET('/.well-known/jwks.json');
    expect(res.response.status).toBe(200);
    expect(res.data?.keys.length).toBeGreaterThan(0);
    for (const key of res.data?.keys ?? []) {
      expect(key).not.toHaveProperty('d');
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }
    const maxAge = Number(/max-age=(\d+)/.exec(res.response.headers.get('cache-control') ?? '')?.[1]);
    expect(res.response.headers.get('cache-control')).toMatch(/^public/);
    expect(maxAge).toBeLessThanOrEqual(auth.config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS);
  });

  it('the discovery documents point at the JWKS and the OAuth token endpoint, and promise no ID token', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'] as const) {
      const res = await auth.client.GET(path);
      expect(res.response.status).toBe(200);
      expect(res.data).toMatchObject({
        issuer: auth.config.JWT_ISSUER,
        jwks_uri: `${auth.config.JWT_ISSUER}/.well-known/jwks.json`,
        token_endpoint: `${auth.config.JWT_ISSUER}/oauth/token`,
      });
      expect(res.data).not.toHaveProperty('id_token_signing_alg_values_supported');
    }
  });

  it('nothing private ever reaches the database in the clear', async () => {
    const rows = await auth.sql('select private_jwk_sealed from auth.signing_keys');
    for (const row of rows) expect((row.private_jwk_sealed as Buffer).toString('latin1')).not.toContain('"d"');
  });
});

describe('one signing algorithm: ES256', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  it('signs access tokens with ES256 and publishes only EC P-256 keys', async () => {
    const user = await auth.newUser();
    expect(decodeProtectedHeader(user.accessToken)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const jwks = await auth.client.GET('/.well-known/jwks.json');
    for (const key of jwks.data?.keys ?? []) expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
  });
});
