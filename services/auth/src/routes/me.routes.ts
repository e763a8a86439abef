import Router from '@koa/router';
import type { AuthState } from '@todo/platform/auth';
import { parseBody } from '@todo/platform/http';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { AuthAppDeps, AuthContextState } from '../context.ts';
import { changePassword, deleteAccount, getMe } from '../domain/manage-account.ts';
import { currentPassword, newPassword } from './fields.ts';

const passwordChangeBody = z.strictObject({ currentPassword, newPassword });
const deleteBody = z.strictObject({ password: currentPassword });

/** The signed-in user's own account. Every route needs a bearer token of a live session. */
export function meRoutes(deps: AuthAppDeps, bearer: Middleware<AuthState>): Router<AuthContextState> {
  const router = new Router<AuthContextState>({ prefix: '/auth/me' });
  router.use(bearer);

  router.get('/', async (ctx) => {
    ctx.body = await getMe(deps.auth, ctx.state.em, { principal: ctx.state.principal });
  });

  router.put('/password', async (ctx) => {
    const input = parseBody(passwordChangeBody, ctx.request.body);
    await changePassword(deps.auth, ctx.state.em, {
      ...input,
      principal: ctx.state.principal,
      limits: ctx.state.limits,
    });
    ctx.status = 204;
  });

  router.delete('/', async (ctx) => {
    const input = parseBody(deleteBody, ctx.request.body);
    await deleteAccount(deps.auth, ctx.state.em, {
      ...input,
      principal: ctx.state.principal,
      limits: ctx.state.limits,
    });
    ctx.status = 204;
  });

  return router;
}
