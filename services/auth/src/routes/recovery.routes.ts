import Router from '@koa/router';
import type { AuthState } from '@todo/platform/auth';
import { parseBody } from '@todo/platform/http';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { AuthAppDeps, AuthContextState } from '../context.ts';
import {
  confirmPasswordReset,
  requestPasswordReset,
  resendVerification,
  verifyEmail,
} from '../domain/account-recovery.ts';
import { email, newPassword } from './fields.ts';

/** A one-time token as the page read it from its link: any other shape is the same refusal as a wrong one. */
const token = z.string().min(1).max(200);

const verifyBody = z.strictObject({ token });
const resetBody = z.strictObject({ email });
const confirmBody = z.strictObject({ token, newPassword });

/** The one answer to a reset request, whether or not the address has an account. */
const resetAccepted = {
  detail:
    'If an account uses this address, a mail with a link to choose a new password is on its way. The link works once, for a short while.',
};

/** Email verification and password reset: the links' landing calls, and the requests for a mail. */
export function recoveryRoutes(deps: AuthAppDeps, bearer: Middleware<AuthState>): Router<AuthContextState> {
  const router = new Router<AuthContextState>({ prefix: '/auth' });

  router.post('/verify-email', async (ctx) => {
    const input = parseBody(verifyBody, ctx.request.body);
    await verifyEmail(deps.auth, ctx.state.em, input);
    ctx.status = 204;
  });

  router.post('/verify-email/resend', bearer, async (ctx) => {
    await resendVerification(deps.auth, ctx.state.em, {
      principal: ctx.state.principal,
      ip: ctx.ip,
      limits: ctx.state.limits,
    });
    ctx.status = 202;
    ctx.body = { detail: 'If the address is not verified yet, a new verification link is on its way.' };
  });

  router.post('/password-reset', async (ctx) => {
    const input = parseBody(resetBody, ctx.request.body);
    await requestPasswordReset(deps.auth, ctx.state.em, { ...input, ip: ctx.ip, limits: ctx.state.limits });
    ctx.status = 202;
    ctx.body = resetAccepted;
  });

  router.post('/password-reset/confirm', async (ctx) => {
    const input = parseBody(confirmBody, ctx.request.body);
    await confirmPasswordReset(deps.auth, ctx.state.em, input);
    ctx.status = 204;
  });

  return router;
}
