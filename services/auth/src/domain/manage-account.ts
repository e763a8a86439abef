/** What a signed-in user does to their own account: read it, change its password, delete it. */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '@todo/platform/auth';
import { ForbiddenError } from '@todo/platform/errors';
import { USER_DELETED } from '@todo/platform/events';
import type { RateLimitReport } from '@todo/platform/http';
import type { User } from '../entities/user.entity.ts';
import { SessionRepository } from '../repositories/session.repository.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import { currentSession } from './current-session.ts';
import type { AuthDeps } from './deps.ts';
import { withdrawOneTimeTokens } from './one-time-tokens.ts';
import { assertPasswordAcceptable } from './password-policy.ts';
import { endSessions } from './sessions.ts';
import { toUserView, type UserView } from './user-view.ts';

export async function getMe(
  deps: AuthDeps,
  em: EntityManager,
  { principal }: { principal: Principal },
): Promise<UserView> {
  const { user } = await currentSession(deps, em, principal);
  return toUserView(user);
}

/** Re-checks the password of a signed-in user, under the same brute-force limits as a login. */
async function confirmPassword(
  deps: AuthDeps,
  em: EntityManager,
  principal: Principal,
  password: string,
  limits: RateLimitReport,
): Promise<User> {
  const { user } = await currentSession(deps, em, principal);
  const attempt = await deps.guard.passwordCheckAttempt(user.id, limits);
  const stored = await new UserRepository(em).passwordHashOf(user.id);
  if (!(await deps.hasher.verify(stored, password)).ok) {
    await attempt.failed();
    throw new ForbiddenError('The password is incorrect.', 'invalid_password');
  }
  await attempt.succeeded();
  return user;
}

/** Sets a new password and ends every other session: whoever else was signed in is out. */
export async function changePassword(
  deps: AuthDeps,
  em: EntityManager,
  {
    principal,
    currentPassword,
    newPassword,
    limits,
  }: { principal: Principal; currentPassword: string; newPassword: string; limits: RateLimitReport },
): Promise<void> {
  const user = await confirmPassword(deps, em, principal, currentPassword, limits);
  assertPasswordAcceptable(newPassword, user.email, '/newPassword');
  const hash = await deps.hasher.hash(newPassword);
  await em.transactional(async (tx) => {
    await new UserRepository(tx).setPasswordHash(user.id, hash, new Date());
    // A reset link mailed before the change must not undo it.
    await withdrawOneTimeTokens(tx, user.id);
    await deps.guard.forgetClients(tx, user.email);
    await endSessions(deps, tx, {
      userId: user.id,
      sessionId: principal.sessionId,
      scope: 'others',
      reason: 'password_changed',
    });
  });
  deps.outbox.notifyCommitted();
}

/** Deletes the user, its sessions and credentials; the event lets other services forget the user too. */
export async function deleteAccount(
  deps: AuthDeps,
  em: EntityManager,
  { principal, password, limits }: { principal: Principal; password: string; limits: RateLimitReport },
): Promise<void> {
  const user = await confirmPassword(deps, em, principal, password, limits);
  await em.transactional(async (tx) => {
    const sessions = await new SessionRepository(tx).allOfUser(user.id);
    const now = new Date();
    const latestExpiry = Math.max(now.getTime(), ...sessions.map((s) => s.accessExpiresAt.getTime()));
    deps.outbox.enqueue(tx, USER_DELETED, {
      userId: user.id,
      deletedAt: Math.floor(now.getTime() / 1000),
      tokensExpireBy: Math.ceil(latestExpiry / 1000),
    });
    await new UserRepository(tx).delete(user.id);
  });
  deps.outbox.notifyCommitted();
}
