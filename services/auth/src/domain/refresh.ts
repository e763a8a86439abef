import type { EntityManager } from '@mikro-orm/postgresql';
import type { RateLimitReport } from '@todo/platform/http';
import type { AuthDeps } from './deps.ts';
import { authenticateRefreshToken, type IssuedTokens, invalidGrant, rotateSession } from './sessions.ts';
import { toUserView, type UserView } from './user-view.ts';

/** Trades a refresh token for a new pair. A replay past the reuse interval ends the session, then fails. */
export async function refresh(
  deps: AuthDeps,
  em: EntityManager,
  { refreshToken, limits }: { refreshToken: string; limits: RateLimitReport },
): Promise<{ tokens: IssuedTokens; user: UserView }> {
  const token = await authenticateRefreshToken(deps, em, refreshToken);
  await deps.guard.refresh(token.sessionId, limits);
  const outcome = await em.transactional((tx) => rotateSession(deps, tx, token));
  deps.outbox.notifyCommitted();
  if (outcome.kind === 'rejected') throw invalidGrant(outcome.detail);
  return { tokens: outcome.tokens, user: toUserView(outcome.user) };
}
