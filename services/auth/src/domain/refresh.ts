import type { BruteForceGuard } from '../limits/brute-force-guard.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import {
  authenticateRefreshToken,
  type IssuedTokens,
  invalidGrant,
  rotateSession,
  type SessionDeps,
} from './sessions.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface RefreshDeps extends SessionDeps {
  guard: BruteForceGuard;
}

/** Trades a refresh token for a new pair. A replay past the reuse interval ends the session, then fails. */
export async function refresh(
  deps: RefreshDeps,
  refreshToken: string,
): Promise<{ tokens: IssuedTokens; user: UserView }> {
  const token = await authenticateRefreshToken(deps, refreshToken);
  await deps.guard.refresh(token.sessionId);
  const outcome = await deps.em.transactional((em) => rotateSession({ ...deps, em }, token));
  deps.outbox.notifyCommitted();
  if (outcome.kind === 'rejected') throw invalidGrant(outcome.detail);
  const user = await new UserRepository(deps.em).findById(outcome.userId);
  if (!user) throw invalidGrant();
  return { tokens: outcome.tokens, user: toUserView(user) };
}
