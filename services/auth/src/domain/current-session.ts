import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '@todo/platform/auth';
import { UnauthorizedError } from '@todo/platform/errors';
import type { Session } from '../entities/session.entity.ts';
import type { User } from '../entities/user.entity.ts';
import { SessionRepository } from '../repositories/session.repository.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import type { AuthDeps } from './deps.ts';
import { isLive } from './sessions.ts';

const ended = () =>
  new UnauthorizedError('The session of this access token has ended.', {
    code: 'invalid_token',
    challenge: 'Bearer realm="auth", error="invalid_token", error_description="The session has ended."',
  });

/**
 * The auth service is the source of truth for sessions, so its own bearer routes check the session row
 * rather than the event-fed revocation list the other services use: the access token's session, if it is
 * still live and the token's user's.
 */
export async function liveSession(
  deps: Pick<AuthDeps, 'sessions'>,
  em: EntityManager,
  principal: Principal,
): Promise<Session> {
  const session = await new SessionRepository(em).findById(principal.sessionId);
  if (!session || session.userId !== principal.userId || !isLive(session, deps.sessions, new Date())) throw ended();
  return session;
}

/** The access token's live session (`liveSession`) and its user, for the routes that need the user too. */
export async function currentSession(
  deps: Pick<AuthDeps, 'sessions'>,
  em: EntityManager,
  principal: Principal,
): Promise<{ session: Session; user: User }> {
  const session = await liveSession(deps, em, principal);
  const user = await new UserRepository(em).findById(principal.userId);
  if (!user) throw ended();
  return { session, user };
}
