import { openApiContract, type TestResponse, type TestUser } from '@todo/testkit';
import { decodeJwt, SignJWT } from 'jose';
import * as oauth from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authService } from '../src/definition.ts';
import { type AuthHarness, startAuth } from './support/harness.ts';

/**
 * openid-client against the service as a client would find it: at its issuer URL (`http://auth.test`), which
 * this fetch sends to the service's real address, holding every answer to the OpenAPI document.
 */
function oauthClient(auth: AuthHarness, options: { clientId?: string; algorithm?: 'oidc' | 'oauth2' } = {}) {
  const contract = openApiContract(authService.docs.api);
  const issuer = new URL(auth.config.JWT_ISSUER);
  const viaService: oauth.CustomFetch = async (url, init) => {
    const target = new URL(url);
    if (target.origin !== issuer.origin) throw new Error(`the client left the issuer: ${url}`);
    const sent = new URL(`${target.pathname}${target.search}`, auth.url);
    const response = await fetch(sent, init);
    const text = await response.clone().text();
    const body = /json/.test(response.headers.get('content-type') ?? '') && text ? JSON.parse(text) : text;
    await contract(
      { method: init.method, path: `${sent.pathname}${sent.search}` },
      { status: response.status, headers: response.headers, body },
    );
    return response;
  };
  return oauth.discovery(issuer, options.clientId ?? 'todo-web', undefined, oauth.None(), {
    [oauth.customFetch]: viaService,
    execute: [oauth.allowInsecureRequests],
    algorithm: options.algorithm,
  });
}

/** What an OAuth error rejects with: openid-client's ResponseBodyError, as `{status, error}`. */
const oauthFailure = (promise: Promise<unknown>) =>
  promise.then(
    () => ({ status: 200, error: undefined }),
    (err: unknown) => {
      if (!(err instanceof oauth.ResponseBodyError)) throw err;
      return { status: err.status, error: err.error };
    },
  );

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** RFC 6749 §5.2: error codes and descriptions are printable ASCII without `"` and `\`. */
const OAUTH_TEXT = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;

/** Every OAuth error: exactly `{error, error_description}` as §5.2 has it, never cached. */
function expectOAuthError(res: TestResponse, status: number, error: string) {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { error, error_description: expect.stringMatching(OAUTH_TEXT) },
  });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('pragma')).toBe('no-cache');
}

describe('a standard OAuth client (openid-client) signs in, refreshes and signs out through /oauth', () => {
  let auth: AuthHarness;
  let client: oauth.Configuration;
  beforeAll(async () => {
    auth = await startAuth();
    client = await oauthClient(auth);
  });
  afterAll(() => auth?.stop());

  const passwordGrant = (user: Pick<TestUser, 'email' | 'password'>, config = client) =>
    oauth.genericGrantRequest(config, 'password', { username: user.email, password: user.password });
  const sessionsOf = (userId: string) =>
    auth.sql('select id, counter, revoked_reason from auth.sessions where user_id = $1', [userId]);
  const me = async (accessToken: string) => (await auth.http.get('/auth/me', { token: accessToken })).status;
  const credentials = (user: { email: string; password: string }) => ({
    username: user.email,
    password: user.password,
  });
  const postForm = (path: string, fields: Record<string, string>) =>
    auth.http.post(path, undefined, { raw: new URLSearchParams(fields).toString(), headers: FORM });

  it('both discovery documents advertise exactly what exists: the two grants, revocation, the keys, public clients', async () => {
    const base = auth.config.JWT_ISSUER;
    const expected = {
      issuer: base,
      token_endpoint: `${base}/oauth/token`,
      revocation_endpoint: `${base}/oauth/revoke`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      grant_types_supported: ['password', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      response_types_supported: [],
    };
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await auth.http.get(path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(expected);
      expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    }
    for (const algorithm of ['oidc', 'oauth2'] as const) {
      const discovered = await oauthClient(auth, { algorithm });
      expect({ ...discovered.serverMetadata() }).toEqual(expected);
    }
  });

  it('the password grant returns an RFC 6749 token pair, never cached, whose access token the API accepts', async () => {
    const user = await auth.newUser();
    const tokens = await passwordGrant(user);
    expect(tokens).toMatchObject({
      token_type: 'bearer',
      expires_in: auth.config.ACCESS_TOKEN_TTL_SECONDS,
      refresh_token: expect.stringMatching(/^v1\./),
    });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: user.id, client_id: 'todo-web' });
    expect(await me(tokens.access_token)).toBe(200);

    const raw = await postForm('/oauth/token', { grant_type: 'password', client_id: 'todo-web', ...credentials(user) });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('cache-control')).toBe('no-store');
    expect(raw.headers.get('pragma')).toBe('no-cache');
  });

  it('refreshTokenGrant rotates the refresh token and spends the old one, on the same session', async () => {
    const user = await auth.newUser();
    const first = await passwordGrant(user);
    const second = await oauth.refreshTokenGrant(client, first.refresh_token ?? '');
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(await me(second.access_token)).toBe(200);
    const third = await oauth.refreshTokenGrant(client, second.refresh_token ?? '');
    expect(third.access_token).not.toBe(second.access_token);
    // One login through OAuth (`newUser` made the other session): counter 2 after two refreshes.
    expect((await sessionsOf(user.id)).map((s) => s.counter).sort()).toEqual([0, 2]);
  });

  it('a refresh token of the JSON routes refreshes through /oauth/token too, and the other way round', async () => {
    const user = await auth.newUser();
    const viaOAuth = await oauth.refreshTokenGrant(client, user.refreshToken);
    const viaJson = await auth.http.post<{ refresh_token: string }>('/auth/refresh', {
      refresh_token: viaOAuth.refresh_token,
    });
    expect(viaJson.status).toBe(200);
    expect(await me((await oauth.refreshTokenGrant(client, viaJson.body.refresh_token)).access_token)).toBe(200);
  });

  it('a spent refresh token replayed after the reuse interval ends the whole session, as on /auth/refresh', async () => {
    const user = await auth.newUser();
    const first = await passwordGrant(user);
    const next = await oauth.refreshTokenGrant(client, first.refresh_token ?? '');
    await auth.sql(`update auth.sessions set rotated_at = rotated_at - make_interval(secs => $2) where user_id = $1`, [
      user.id,
      auth.config.REFRESH_REUSE_INTERVAL_SECONDS + 1,
    ]);

    expect(await oauthFailure(oauth.refreshTokenGrant(client, first.refresh_token ?? ''))).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
    // The legitimate holder's successor is dead too, and so is the session's access token.
    expect(await oauthFailure(oauth.refreshTokenGrant(client, next.refresh_token ?? ''))).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
    expect(await me(next.access_token)).toBe(401);
    expect(await sessionsOf(user.id)).toContainEqual(
      expect.objectContaining({ revoked_reason: 'refresh_token_reuse' }),
    );
  });

  it('a wrong password and an unknown email are the same invalid_grant', async () => {
    const user = await auth.newUser();
    for (const attempt of [
      { email: user.email, password: 'not the password at all' },
      { email: `nobody-${crypto.randomUUID()}@example.com`, password: user.password },
    ]) {
      expect(await oauthFailure(passwordGrant(attempt))).toEqual({ status: 400, error: 'invalid_grant' });
      const raw = await postForm('/oauth/token', {
        grant_type: 'password',
        client_id: 'todo-web',
        ...credentials(attempt),
      });
      expectOAuthError(raw, 400, 'invalid_grant');
      expect(raw.body).toMatchObject({ error_description: 'The email or password is incorrect.' });
    }
  });

  it('tokenRevocation of a refresh token ends its session, as a logout does; the other sessions stay', async () => {
    const user = await auth.newUser();
    const tokens = await passwordGrant(user);
    await oauth.tokenRevocation(client, tokens.refresh_token ?? '', { token_type_hint: 'refresh_token' });
    expect(await me(tokens.access_token)).toBe(401);
    expect(await oauthFailure(oauth.refreshTokenGrant(client, tokens.refresh_token ?? ''))).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
    const sessions = await sessionsOf(user.id);
    expect(sessions.map((s) => s.revoked_reason).sort()).toEqual(['logout', null]);
    expect(await me(user.accessToken)).toBe(200);
  });

  it('tokenRevocation of an access token ends its session too, whatever the hint says', async () => {
    const user = await auth.newUser();
    const tokens = await passwordGrant(user);
    await oauth.tokenRevocation(client, tokens.access_token, { token_type_hint: 'refresh_token' });
    expect(await me(tokens.access_token)).toBe(401);
    expect(await oauthFailure(oauth.refreshTokenGrant(client, tokens.refresh_token ?? ''))).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
    expect(await me(user.accessToken)).toBe(200);
  });

  it('revoking garbage, a forged, an expired or an already revoked token is a 200 that changes nothing', async () => {
    const user = await auth.newUser();
    const { sub, sid } = decodeJwt(user.accessToken);
    const key = auth.service.keys.active();
    const expired = await new SignJWT({ sid, client_id: 'todo-web' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(auth.config.JWT_ISSUER)
      .setAudience(auth.config.JWT_AUDIENCE)
      .setSubject(String(sub))
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 600)
      .setJti(crypto.randomUUID())
      .sign(key.privateKey);
    const [v, session, counter] = user.refreshToken.split('.');
    const forged = `${v}.${session}.${counter}.${Buffer.alloc(32, 7).toString('base64url')}`;

    for (const token of ['garbage', forged, expired, `${user.accessToken.slice(0, -4)}AAAA`]) {
      await oauth.tokenRevocation(client, token);
      const res = await postForm('/oauth/revoke', { token, client_id: 'todo-web' });
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
    }
    expect(await sessionsOf(user.id)).toEqual([expect.objectContaining({ revoked_reason: null })]);
    expect(await me(user.accessToken)).toBe(200);

    await oauth.tokenRevocation(client, user.refreshToken);
    await oauth.tokenRevocation(client, user.refreshToken);
    expect(await sessionsOf(user.id)).toEqual([expect.objectContaining({ revoked_reason: 'logout' })]);
  });
});

describe('what is not an OAuth request gets an RFC 6749 §5.2 error, never cached', () => {
  let auth: AuthHarness;
  let user: TestUser;
  beforeAll(async () => {
    auth = await startAuth();
    user = await auth.newUser();
  });
  afterAll(() => auth?.stop());

  const post = (path: string, raw: string, headers: Record<string, string> = FORM) =>
    auth.http.post(path, undefined, { raw, headers });
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const password = { grant_type: 'password', client_id: 'todo-web' };

  it('a JSON or plain-text body is invalid_request (400), and the JSON routes still refuse forms with 415', async () => {
    const json = JSON.stringify({ ...password, username: user.email, password: user.password });
    expectOAuthError(await post('/oauth/token', json, { 'content-type': 'application/json' }), 400, 'invalid_request');
    expectOAuthError(await post('/oauth/revoke', json, { 'content-type': 'application/json' }), 400, 'invalid_request');
    expectOAuthError(
      await post('/oauth/token', form(password), { 'content-type': 'text/plain' }),
      400,
      'invalid_request',
    );

    const jsonRoute = await post('/auth/login', form({ email: user.email, password: user.password }));
    expect(jsonRoute.status).toBe(415);
    expect(jsonRoute.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('no body, a missing grant_type or a parameter sent twice is invalid_request; an empty one counts as missing', async () => {
    expectOAuthError(await auth.http.post('/oauth/token'), 400, 'invalid_request');
    expectOAuthError(await post('/oauth/token', form({ client_id: 'todo-web' })), 400, 'invalid_request');
    expectOAuthError(await post('/oauth/token', form({ ...password, grant_type: '' })), 400, 'invalid_request');
    const twice = `${form({ ...password, username: user.email, password: user.password })}&grant_type=password`;
    expectOAuthError(await post('/oauth/token', twice), 400, 'invalid_request');
    const noPassword = await post('/oauth/token', form({ ...password, username: user.email, password: '' }));
    expectOAuthError(noPassword, 400, 'invalid_request');
    expect(noPassword.body).toMatchObject({ error_description: expect.stringContaining('password: Required.') });
    expectOAuthError(await post('/oauth/revoke', form({ client_id: 'todo-web' })), 400, 'invalid_request');
  });

  it('another grant type is unsupported_grant_type; asking for a scope is invalid_scope', async () => {
    for (const grant of ['authorization_code', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']) {
      expectOAuthError(
        await post('/oauth/token', form({ ...password, grant_type: grant })),
        400,
        'unsupported_grant_type',
      );
    }
    const scoped = form({ ...password, username: user.email, password: user.password, scope: 'openid' });
    expectOAuthError(await post('/oauth/token', scoped), 400, 'invalid_scope');
  });

  it('an unknown or missing client_id is invalid_client (400); HTTP Basic credentials are a 401 with a Basic challenge', async () => {
    const login = { grant_type: 'password', username: user.email, password: user.password };
    expectOAuthError(await post('/oauth/token', form({ ...login, client_id: 'evil-app' })), 400, 'invalid_client');
    expectOAuthError(await post('/oauth/token', form(login)), 400, 'invalid_client');
    expectOAuthError(await post('/oauth/revoke', form({ token: user.refreshToken })), 400, 'invalid_client');
    const stranger = await oauthClient(auth, { clientId: 'evil-app' });
    expect(await oauthFailure(oauth.refreshTokenGrant(stranger, user.refreshToken))).toEqual({
      status: 400,
      error: 'invalid_client',
    });

    const basic = await post('/oauth/token', form({ ...login, client_id: 'todo-web' }), {
      ...FORM,
      authorization: `Basic ${Buffer.from('todo-web:secret').toString('base64')}`,
    });
    expectOAuthError(basic, 401, 'invalid_client');
    expect(basic.headers.get('www-authenticate')).toBe('Basic realm="auth"');
    // None of it logged anyone in or out.
    expect((await auth.http.get('/auth/me', { token: user.accessToken })).status).toBe(200);
  });

  it('an oversized body is a 413 invalid_request', async () => {
    const huge = form({ ...password, username: user.email, password: 'x'.repeat(300 * 1024) });
    expectOAuthError(await post('/oauth/token', huge), 413, 'invalid_request');
  });

  it('a wrong method is still a problem, as any routing error: 405 with Allow', async () => {
    const res = await auth.http.get('/oauth/token');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('a parameter over its documented length is invalid_request, counted in code points as on the JSON routes', async () => {
    const refresh = { grant_type: 'refresh_token', client_id: 'todo-web' };
    const tooLong = [
      ['/oauth/token', { ...password, username: user.email, password: '🔑'.repeat(1025) }, 'password'],
      ['/oauth/token', { ...refresh, refresh_token: 'r'.repeat(513) }, 'refresh_token'],
      ['/oauth/revoke', { client_id: 'todo-web', token: 't'.repeat(8193) }, 'token'],
    ] as const;
    for (const [path, fields, name] of tooLong) {
      const res = await post(path, form(fields));
      expectOAuthError(res, 400, 'invalid_request');
      expect(res.body, name).toMatchObject({ error_description: expect.stringContaining(`${name}: Must be at most`) });
    }
    // 1,024 emoji are 2,048 UTF-16 units, yet within the bound: a wrong password, not a malformed request.
    const atTheBound = form({ ...password, username: user.email, password: '🔑'.repeat(1024) });
    expectOAuthError(await post('/oauth/token', atTheBound), 400, 'invalid_grant');
  });
});

describe('the login limits are the same limits on /auth/login and /oauth/token', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    // One trusted proxy, so each story is its own client; the per-account limit out of the way, as in brute-force.
    auth = await startAuth({ env: { TRUST_PROXY_HOPS: '1', LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: '1000' } });
  });
  afterAll(() => auth?.stop());

  const from = (client: string) => ({ 'x-forwarded-for': client });
  const jsonLogin = (email: string, password: string, client: string) =>
    auth.http.post('/auth/login', { email, password }, { headers: from(client) });
  const oauthLogin = (username: string, password: string, client: string) =>
    auth.http.post('/oauth/token', undefined, {
      raw: new URLSearchParams({ grant_type: 'password', client_id: 'todo-web', username, password }).toString(),
      headers: { ...FORM, ...from(client) },
    });

  it('consecutive failures on either count for both: five here and five there block the pair on both', async () => {
    const user = await auth.newUser();
    const client = '198.51.100.31';
    for (let i = 0; i < 5; i++) expect((await jsonLogin(user.email, `wrong ${i}`, client)).status).toBe(401);
    for (let i = 0; i < 5; i++)
      expectOAuthError(await oauthLogin(user.email, `wrong ${i}`, client), 400, 'invalid_grant');

    const refused = await oauthLogin(user.email, user.password, client);
    expectOAuthError(refused, 429, 'rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit-policy')).toContain('"login-pair";q=10');
    expect(refused.headers.get('ratelimit')).toMatch(/"login-pair";r=0;t=\d+/);
    expect((await jsonLogin(user.email, user.password, client)).status).toBe(429);
  });

  it('a success on /oauth/token clears the count that /auth/login failures built up, and reports the limits', async () => {
    const user = await auth.newUser();
    const client = '198.51.100.32';
    for (let i = 0; i < 9; i++) expect((await jsonLogin(user.email, `wrong ${i}`, client)).status).toBe(401);
    const ok = await oauthLogin(user.email, user.password, client);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-policy')).toMatch(/"login-pair";q=10;w=\d+/);
    for (let i = 0; i < 9; i++) expect((await jsonLogin(user.email, `wrong ${i}`, client)).status).toBe(401);
    expect((await oauthLogin(user.email, user.password, client)).status).toBe(200);
  });
});
