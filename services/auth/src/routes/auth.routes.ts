import Router from '@koa/router';
import type { AuthState } from '@todo/platform/auth';
import { parseBody, parseQuery, plainText } from '@todo/platform/http';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { AuthAppDeps, AuthContextState } from '../context.ts';
import { logIn } from '../domain/log-in.ts';
import { logOut } from '../domain/log-out.ts';
import { refresh } from '../domain/refresh.ts';
import { registerUser } from '../domain/register-user.ts';
import type { IssuedTokens } from '../domain/sessions.ts';
import type { UserView } from '../domain/user-view.ts';
import { currentPassword, email, newPassword, refreshToken } from './fields.ts';
import { oauthTokenBody } from './oauth.routes.ts';

const registerBody = z.strictObject({
  email,
  password: newPassword,
  name: plainText({ min: 1, max: 200 }).optional(),
});

const loginBody = z.strictObject({ email, password: currentPassword });
const refreshBody = z.strictObject({ refresh_token: refreshToken });
const logoutQuery = z.strictObject({ scope: z.enum(['local', 'others', 'global']).default('local') });

/** What `/oauth/token` answers, with the user beside it. */
const tokenResponse = (tokens: IssuedTokens, user: UserView) => ({ ...oauthTokenBody(tokens), user });

export function authRoutes(deps: AuthAppDeps, bearer: Middleware<AuthState>): Router<AuthContextState> {
  const router = new Router<AuthContextState>({ prefix: '/auth' });

  router.post('/register', async (ctx) => {
    const input = parseBody(registerBody, ctx.request.body);
    const user = await registerUser(deps.auth, ctx.state.em, { ...input, ip: ctx.ip, limits: ctx.state.limits });
    ctx.status = 201;
    ctx.set('Location', '/auth/me');
    ctx.body = user;
  });

  router.post('/login', async (ctx) => {
    const input = parseBody(loginBody, ctx.request.body);
    const { tokens, user } = await logIn(deps.auth, ctx.state.em, { ...input, ip: ctx.ip, limits: ctx.state.limits });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = tokenResponse(tokens, user);
  });

  router.post('/refresh', async (ctx) => {
    const input = parseBody(refreshBody, ctx.request.body);
    const { tokens, user } = await refresh(deps.auth, ctx.state.em, {
      refreshToken: input.refresh_token,
      limits: ctx.state.limits,
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = tokenResponse(tokens, user);
  });

  router.post('/logout', bearer, async (ctx) => {
    const { scope } = parseQuery(logoutQuery, ctx.query);
    await logOut(deps.auth, ctx.state.em, { principal: ctx.state.principal, scope });
    ctx.status = 204;
  });

  return router;
}
