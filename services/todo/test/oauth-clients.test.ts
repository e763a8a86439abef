import { authService } from '@todo/auth-service/definition';
import { bearer, openApiContract } from '@todo/testkit';
import * as oauth from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

/** How soon a running todo service must refuse a token whose session ended. */
const PROPAGATION_DEADLINE_MS = 2_000;

/**
 * openid-client against the auth service as a client would find it: at its issuer URL (`http://auth.test`),
 * which this fetch sends to the service's real address, holding every answer to the auth OpenAPI document.
 */
function oauthClient(auth: Stack['auth']) {
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
  return oauth.discovery(issuer, 'todo-web', undefined, oauth.None(), {
    [oauth.customFetch]: viaService,
    execute: [oauth.allowInsecureRequests],
  });
}

describe("a standard OAuth client's tokens work on the todo service, and ending them bites there within seconds", () => {
  let stack: Stack;
  let client: oauth.Configuration;
  beforeAll(async () => {
    stack = await startStack();
    client = await oauthClient(stack.auth);
  });
  afterAll(() => stack?.stop());

  /** Signs a fresh user in through the password grant, as a first-party app would. */
  async function signedIn() {
    const user = await stack.auth.newUser();
    const tokens = await oauth.genericGrantRequest(client, 'password', {
      username: user.email,
      password: user.password,
    });
    return { user, tokens, refreshToken: tokens.refresh_token ?? '' };
  }
  const todoStatus = async (token: string) =>
    (await stack.client.GET('/todos', { headers: bearer(token) })).response.status;
  const refusedSoon = (token: string, what: string) =>
    vi.waitFor(async () => expect(await todoStatus(token)).toBe(401), {
      timeout: PROPAGATION_DEADLINE_MS,
      message: what,
    });

  it('the access tokens of the password grant and of the refresh grant both list todos', async () => {
    const { tokens, refreshToken } = await signedIn();
    expect(await todoStatus(tokens.access_token)).toBe(200);
    const refreshed = await oauth.refreshTokenGrant(client, refreshToken);
    expect(await todoStatus(refreshed.access_token)).toBe(200);
  });

  it('after the refresh token is revoked, the todo service refuses the access token within 2 s', async () => {
    const { user, tokens, refreshToken } = await signedIn();
    expect(await todoStatus(tokens.access_token)).toBe(200);
    await oauth.tokenRevocation(client, refreshToken, { token_type_hint: 'refresh_token' });
    await refusedSoon(tokens.access_token, 'the revoked session to be refused');
    // Only that session: the user's other sign-in still works.
    expect(await todoStatus(user.accessToken)).toBe(200);
  });

  it('after the access token itself is revoked, the todo service refuses it within 2 s', async () => {
    const { user, tokens } = await signedIn();
    expect(await todoStatus(tokens.access_token)).toBe(200);
    await oauth.tokenRevocation(client, tokens.access_token, { token_type_hint: 'access_token' });
    await refusedSoon(tokens.access_token, 'the revoked access token to be refused');
    expect(await todoStatus(user.accessToken)).toBe(200);
  });

  it('a refresh token replayed through /oauth/token after the reuse interval kills the whole session there too', async () => {
    const { user, refreshToken } = await signedIn();
    const next = await oauth.refreshTokenGrant(client, refreshToken);
    expect(await todoStatus(next.access_token)).toBe(200);
    await stack.auth.sql(`update auth.sessions set rotated_at = rotated_at - interval '1 hour' where user_id = $1`, [
      user.id,
    ]);
    const replay = await oauth.refreshTokenGrant(client, refreshToken).catch((err: unknown) => err);
    expect(replay).toBeInstanceOf(oauth.ResponseBodyError);
    expect(replay).toMatchObject({ status: 400, error: 'invalid_grant' });
    await refusedSoon(next.access_token, 'the stolen session to be refused');
  });
});
