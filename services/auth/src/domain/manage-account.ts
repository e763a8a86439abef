/** What a signed-in user does to their own account: read it, change its password, delete it. */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '@todo/platform/auth';
import { ForbiddenError } from '@todo/platform/errors';
import { type Outbox, USER_DELETED } from '@todo/platform/events';
import type { User } from '../entities/user.entity.ts';
import type { BruteForceGuard } from '../limits/brute-force-guard.ts';
import { SessionRepository } from '../repositories/session.repository.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import { currentSession } from './current-session.ts';
import type { PasswordHasher } from './passwords.ts';
import { assertPasswordAcceptable } from './register-user.ts';
import { endSessions, type SessionSettings } from './sessions.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface AccountDeps {
  em: EntityManager;
  hasher: PasswordHasher;
  guard: BruteForceGuard;
  outbox: Outbox;
  settings: SessionSettings;
}

export async function getMe(deps: Pick<AccountDeps, 'em' | 'settings'>, principal: Principal): Promise<UserView> {
  const { user } = await currentSession(deps.em, principal, deps.settings);
  return toUserView(user);
}

/** Re-checks the password of a signed-in user, under the same brute-force limits as a login. */
async function confirmPassword(deps: AccountDeps, principal: Principal, password: string): Promise<User> {
  const { user } = await currentSession(deps.em, principal, deps.settings);
  await deps.guard.beforePasswordCheck(user.id);
  const stored = await new UserRepository(deps.em).passwordHashOf(user.id);
  if (!(await deps.hasher.verify(stored, password))) {
    await deps.guard.passwordCheckFailed(user.id);
    throw new ForbiddenError('The password is incorrect.', 'invalid_password');
  }
  await deps.guard.passwordCheckSucceeded(user.id);
  return user;
}

/** Sets a new password and ends every other session: whoever else was signed in is out. */
export async function changePassword(
  deps: AccountDeps,
  principal: Principal,
  { currentPassword, newPassword }: { currentPassword: string; newPassword: string },
): Promise<void> {
  const user = await confirmPassword(deps, principal, currentPassword);
  assertPasswordAcceptable(newPassword, user.email);
  const hash = await deps.hasher.hash(newPassword);
  await deps.em.transactional(async (em) => {
    await new UserRepository(em).setPasswordHash(user.id, hash, new Date());
    await endSessions(
      { em, outbox: deps.outbox },
      { userId: user.id, sessionId: principal.sessionId, scope: 'others', reason: 'password_changed' },
    );
  });
  deps.outbox.notifyCommitted();
}

/** Deletes the user, its sessions and credentials; the event lets other services forget the user too. */
export async function deleteAccount(
  deps: AccountDeps,
  principal: Principal,
  { password }: { password: string },
): Promise<void> {
  const user = await confirmPassword(deps, principal, password);
  await deps.em.transactional(async (em) => {
    const sessions = await new SessionRepository(em).allOfUser(user.id);
    const now = new Date();
    const latestExpiry = Math.max(now.getTime(), ...sessions.map((s) => s.accessExpiresAt.getTime()));
    deps.outbox.enqueue(em, USER_DELETED, {
      userId: user.id,
      deletedAt: Math.floor(now.getTime() / 1000),
      tokensExpireBy: Math.ceil(latestExpiry / 1000),
    });
    await new UserRepository(em).delete(user.id);
  });
  deps.outbox.notifyCommitted();
}
