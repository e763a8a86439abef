import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '@todo/platform/auth';
import { currentSession } from './current-session.ts';
import type { AuthDeps } from './deps.ts';
import { endSessions, type LogoutScope, type RevocationReason } from './sessions.ts';

const REASONS: Record<LogoutScope, RevocationReason> = {
  local: 'logout',
  others: 'logout_others',
  global: 'logout_global',
};

/** `local` ends this session, `others` every other one, `global` all of them. */
export async function logOut(
  deps: AuthDeps,
  em: EntityManager,
  { principal, scope }: { principal: Principal; scope: LogoutScope },
): Promise<void> {
  await em.transactional(async (tx) => {
    await currentSession(deps, tx, principal);
    await endSessions(deps, tx, {
      userId: principal.userId,
      sessionId: principal.sessionId,
      scope,
      reason: REASONS[scope],
    });
  });
  deps.outbox.notifyCommitted();
}
