import type { EntityManager } from '@mikro-orm/postgresql';
import { ForbiddenError, UnauthorizedError } from '@todo/platform/errors';
import type { RateLimitReport } from '@todo/platform/http';
import { UserRepository } from '../repositories/user.repository.ts';
import type { AuthDeps } from './deps.ts';
import { type IssuedTokens, startSession } from './sessions.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface Credentials {
  email: string;
  password: string;
  /** The client's address, for the brute-force limits. */
  ip: string;
  /** Where the limits this attempt was counted against are reported (the RateLimit headers). */
  limits: RateLimitReport;
}

export interface LoggedIn {
  tokens: IssuedTokens;
  user: UserView;
}

/** Unknown email and wrong password are the same failure, with the same body and the same cost. */
const invalidCredentials = () =>
  new UnauthorizedError('The email or password is incorrect.', { code: 'invalid_credentials' });

export async function logIn(
  deps: AuthDeps,
  em: EntityManager,
  { email, password, ip, limits }: Credentials,
): Promise<LoggedIn> {
  // Counted before the password is checked: no burst runs more checks than the limits allow.
  const attempt = await deps.guard.loginAttempt(email, ip, limits);
  const found = await new UserRepository(em).findWithPasswordHash(email);
  const check = await deps.hasher.verify(found?.passwordHash, password);
  if (!found || !check.ok) {
    await attempt.failed();
    throw invalidCredentials();
  }
  await attempt.succeeded();
  const { user } = found;
  // Told only to whoever knows the password: no way to learn an address's state without it.
  if (deps.recovery.requireVerifiedEmail && !user.emailVerifiedAt) {
    throw new ForbiddenError(
      'Verify your email address first: follow the link in the mail we sent, or ask for a new one.',
      'email_not_verified',
    );
  }

  const newHash = check.rehash ? await deps.hasher.hash(password) : undefined;
  const tokens = await em.transactional(async (tx) => {
    // The cost policy went up, or the hash predates normalisation: upgrade it now that we hold the password.
    if (newHash) await new UserRepository(tx).setPasswordHash(user.id, newHash, new Date());
    return startSession(deps, tx, user);
  });
  return { tokens, user: toUserView(user) };
}
