import type { EntityManager } from '@mikro-orm/postgresql';
import { UnauthorizedError } from '@todo/platform/errors';
import { UserRepository } from '../repositories/user.repository.ts';
import type { AuthDeps } from './deps.ts';
import { type IssuedTokens, startSession } from './sessions.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface Credentials {
  email: string;
  password: string;
  /** The client's address, for the brute-force limits. */
  ip: string;
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
  { email, password, ip }: Credentials,
): Promise<LoggedIn> {
  await deps.guard.beforeLogin(email, ip);
  const found = await new UserRepository(em).findWithPasswordHash(email);
  const ok = await deps.hasher.verify(found?.passwordHash, password);
  if (!found || !ok) {
    await deps.guard.loginFailed(email, ip);
    throw invalidCredentials();
  }
  await deps.guard.loginSucceeded(email, ip);
  const { user, passwordHash: stored } = found;

  const newHash = deps.hasher.needsRehash(stored) ? await deps.hasher.hash(password) : undefined;
  const tokens = await em.transactional(async (tx) => {
    // The cost policy went up since this hash was made: upgrade it now that we hold the password.
    if (newHash) await new UserRepository(tx).setPasswordHash(user.id, newHash, new Date());
    return startSession(deps, tx, user.id);
  });
  return { tokens, user: toUserView(user) };
}
