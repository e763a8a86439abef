import Router from '@koa/router';
import { parseBody, plainText } from '@todo/platform/http';
import { z } from 'zod';
import type { AuthAppDeps, AuthContextState } from '../app.ts';
import { logIn } from '../domain/log-in.ts';
import { registerUser } from '../domain/register-user.ts';

const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(
    z.email({ message: 'Must be an email address.' }).max(254, { message: 'Must be at most 254 characters long.' }),
  );

const codePoints = (s: string) => [...s].length;
const newPassword = z
  .string()
  .refine((s) => codePoints(s) >= 12, { message: 'Must be at least 12 characters long.' })
  .refine((s) => codePoints(s) <= 256, { message: 'Must be at most 256 characters long.' });

const registerBody = z.strictObject({
  email,
  password: newPassword,
  name: plainText({ min: 1, max: 200 }).optional(),
});

const loginBody = z.strictObject({
  email,
  password: z.string().min(1).max(1024),
});

export function authRoutes(deps: AuthAppDeps): Router<AuthContextState> {
  const router = new Router<AuthContextState>({ prefix: '/auth' });

  router.post('/register', async (ctx) => {
    const input = parseBody(registerBody, ctx.request.body);
    const user = await registerUser({ em: ctx.state.em, hasher: deps.hasher }, input);
    ctx.status = 201;
    ctx.set('Location', '/auth/me');
    ctx.body = user;
  });

  router.post('/login', async (ctx) => {
    const input = parseBody(loginBody, ctx.request.body);
    const { accessToken, user } = await logIn(
      {
        em: ctx.state.em,
        hasher: deps.hasher,
        tokens: deps.tokens,
        sessionLifetimeSeconds: deps.config.SESSION_LIFETIME_SECONDS,
      },
      input,
    );
    // RFC 6749 §5.1: token responses are never cached.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      access_token: accessToken.token,
      token_type: 'Bearer',
      expires_in: accessToken.expiresIn,
      user,
    };
  });

  return router;
}
