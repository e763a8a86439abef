import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '@todo/platform/auth';
import { liveSession } from './current-session.ts';
import type { AuthDeps } from './deps.ts';
import { endSessions, findAuthenticRefreshToken, type LogoutScope, type RevocationReason } from './sessions.ts';

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
    await liveSession(deps, tx, principal);
    await endSessions(deps, tx, {
      userId: principal.userId,
      sessionId: principal.sessionId,
      scope,
      reason: REASONS[scope],
    });
  });
  deps.outbox.notifyCommitted();
}

/**
 * Token revocation (RFC 7009): a refresh token or an access token of ours ends its session exactly as a local
 * logout does (same reason, same event). Anything else (unknown, forged, expired, of an ended session)
 * changes nothing and is no error, so the answer says nothing about the token.
 */
export async function revokeToken(deps: AuthDeps, em: EntityManager, { token }: { token: string }): Promise<void> {
  const owner = (await findAuthenticRefreshToken(deps, em, token)) ?? (await deps.tokens.subjectOf(token));
  if (!owner) return;
  await em.transactional((tx) =>
    endSessions(deps, tx, { userId: owner.userId, sessionId: owner.sessionId, scope: 'local', reason: REASONS.local }),
  );
  deps.outbox.notifyCommitted();
}
