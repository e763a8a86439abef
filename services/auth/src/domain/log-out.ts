import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '@todo/platform/auth';
import type { Outbox } from '@todo/platform/events';
import { currentSession } from './current-session.ts';
import { endSessions, type LogoutScope, type RevocationReason, type SessionSettings } from './sessions.ts';

export interface LogOutDeps {
  em: EntityManager;
  outbox: Outbox;
  settings: SessionSettings;
}

const REASONS: Record<LogoutScope, RevocationReason> = {
  local: 'logout',
  others: 'logout_others',
  global: 'logout_global',
};

/** `local` ends this session, `others` every other one, `global` all of them. */
export async function logOut(deps: LogOutDeps, principal: Principal, scope: LogoutScope): Promise<void> {
  await deps.em.transactional(async (em) => {
    await currentSession(em, principal, deps.settings);
    await endSessions(
      { em, outbox: deps.outbox },
      { userId: principal.userId, sessionId: principal.sessionId, scope, reason: REASONS[scope] },
    );
  });
  deps.outbox.notifyCommitted();
}
