import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';
import { UnauthorizedError } from '@todo/platform/errors';
import { SessionRepository } from '../repositories/session.repository.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import type { AccessTokenIssuer, IssuedAccessToken } from './access-tokens.ts';
import type { PasswordHasher } from './passwords.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface Credentials {
  email: string;
  password: string;
}

export interface LogInDeps {
  em: EntityManager;
  hasher: PasswordHasher;
  tokens: AccessTokenIssuer;
  sessionLifetimeSeconds: number;
}

export interface LoggedIn {
  accessToken: IssuedAccessToken;
  user: UserView;
}

/** Unknown email and wrong password are the same failure, with the same body and the same cost. */
export const invalidCredentials = () =>
  new UnauthorizedError('The email or password is incorrect.', { code: 'invalid_credentials' });

export async function logIn(deps: LogInDeps, { email, password }: Credentials): Promise<LoggedIn> {
  const users = new UserRepository(deps.em);
  const user = await users.findByEmail(email);
  const stored = user ? await users.passwordHashOf(user.id) : undefined;
  const ok = await deps.hasher.verify(stored, password);
  if (!user || !ok) throw invalidCredentials();

  const now = new Date();
  const session = await new SessionRepository(deps.em).start({
    id: newId(),
    userId: user.id,
    createdAt: now,
    expiresAt: new Date(now.getTime() + deps.sessionLifetimeSeconds * 1000),
    revokedAt: null,
  });
  const accessToken = await deps.tokens.issue({ userId: user.id, sessionId: session.id }, now);
  return { accessToken, user: toUserView(user) };
}
