import type { EntityManager } from '@mikro-orm/postgresql';
import { UnauthorizedError } from '@todo/platform/errors';
import type { BruteForceGuard } from '../limits/brute-force-guard.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import type { PasswordHasher } from './passwords.ts';
import { type IssuedTokens, type SessionDeps, startSession } from './sessions.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface Credentials {
  email: string;
  password: string;
  ip: string;
}

export interface LogInDeps {
  em: EntityManager;
  hasher: PasswordHasher;
  guard: BruteForceGuard;
  sessions: Omit<SessionDeps, 'em'>;
}

export interface LoggedIn {
  tokens: IssuedTokens;
  user: UserView;
}

/** Unknown email and wrong password are the same failure, with the same body and the same cost. */
export const invalidCredentials = () =>
  new UnauthorizedError('The email or password is incorrect.', { code: 'invalid_credentials' });

export async function logIn(deps: LogInDeps, { email, password, ip }: Credentials): Promise<LoggedIn> {
  await deps.guard.beforeLogin(email, ip);
  const found = await new UserRepository(deps.em).findWithPasswordHash(email);
  const ok = await deps.hasher.verify(found?.passwordHash, password);
  if (!found || !ok) {
    await deps.guard.loginFailed(email, ip);
    throw invalidCredentials();
  }
  await deps.guard.loginSucceeded(email, ip);
  const { user, passwordHash: stored } = found;

  const newHash = deps.hasher.needsRehash(stored) ? await deps.hasher.hash(password) : undefined;
  const tokens = await deps.em.transactional(async (em) => {
    // The cost policy went up since this hash was made: upgrade it now that we hold the password.
    if (newHash) await new UserRepository(em).setPasswordHash(user.id, newHash, new Date());
    return startSession({ ...deps.sessions, em }, user.id);
  });
  return { tokens, user: toUserView(user) };
}
