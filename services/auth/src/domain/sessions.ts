/**
 * Sessions and their tokens (RFC 9700 §4.14): each refresh spends the presented refresh token and hands
 * out its successor; a spent token presented again within the reuse interval gets the current successor
 * (two tabs, a retried request), and past it the replay is treated as theft: the whole session ends.
 */
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';
import { ServiceUnavailableError, UnauthorizedError } from '@todo/platform/errors';
import { SESSION_REVOKED, type SessionRevoked } from '@todo/platform/events';
import type { Session } from '../entities/session.entity.ts';
import type { User } from '../entities/user.entity.ts';
import { sessionSecretContext, UnsealError } from '../keys/key-encryption.ts';
import { SessionRepository } from '../repositories/session.repository.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import type { IssuedAccessToken } from './access-tokens.ts';
import type { AuthDeps, SessionSettings } from './deps.ts';
import { isAuthentic, mintRefreshToken, parseRefreshToken } from './refresh-tokens.ts';

export interface IssuedTokens {
  accessToken: IssuedAccessToken;
  refreshToken: string;
  refreshExpiresIn: number;
}

export type RevocationReason = SessionRevoked['reason'];

export const invalidGrant = (detail = 'The refresh token is invalid, expired or already used.') =>
  new UnauthorizedError(detail, { code: 'invalid_grant' });

const epochSeconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** When the session ends if nothing happens: the earlier of its absolute end and its idle end. */
function sessionEndsAt(session: Session, settings: SessionSettings): Date {
  const idleEnd = session.lastActiveAt.getTime() + settings.idleTimeoutSeconds * 1000;
  return new Date(Math.min(session.expiresAt.getTime(), idleEnd));
}

export const isLive = (session: Session, settings: SessionSettings, now: Date): boolean =>
  session.revokedAt === null && sessionEndsAt(session, settings) > now;

/** Who a session's tokens speak for: the claims that come from the user rather than the session. */
type Holder = Pick<User, 'id' | 'emailVerifiedAt'>;

async function issue(
  deps: AuthDeps,
  session: Session,
  secret: Buffer,
  holder: Holder,
  now: Date,
): Promise<IssuedTokens> {
  const accessToken = await deps.tokens.issue(
    {
      userId: session.userId,
      sessionId: session.id,
      clientId: session.clientId,
      emailVerified: holder.emailVerifiedAt != null,
    },
    now,
  );
  const expires = new Date(accessToken.expiresAt * 1000);
  if (expires > session.accessExpiresAt) session.accessExpiresAt = expires;
  return {
    accessToken,
    refreshToken: mintRefreshToken(secret, session.id, session.counter),
    refreshExpiresIn: Math.max(0, Math.floor((sessionEndsAt(session, deps.sessions).getTime() - now.getTime()) / 1000)),
  };
}

/** The client every session is started for: the todo apps are one first-party client. */
export const FIRST_PARTY_CLIENT_ID = 'todo-web';

/** Starts a session for a user who just proved who they are. Call inside a transaction. */
export async function startSession(
  deps: AuthDeps,
  em: EntityManager,
  user: Holder,
  now = new Date(),
): Promise<IssuedTokens> {
  const userId = user.id;
  const id = newId();
  const secret = randomBytes(32);
  const session = new SessionRepository(em).add({
    id,
    userId,
    clientId: FIRST_PARTY_CLIENT_ID,
    secretSealed: deps.kek.seal(secret, sessionSecretContext(id)),
    counter: 0,
    rotatedAt: now,
    lastActiveAt: now,
    createdAt: now,
    expiresAt: new Date(now.getTime() + deps.sessions.lifetimeSeconds * 1000),
    accessExpiresAt: now,
    revokedAt: null,
    revokedReason: null,
  });
  return issue(deps, session, secret, user, now);
}

/** A refresh token whose MAC checked out, with the secret of its session for minting the successor. */
export interface AuthenticRefreshToken {
  sessionId: string;
  userId: string;
  counter: number;
  secret: Buffer;
}

/**
 * A session sealed under a KEK this replica does not hold yet is a KEK rotation rolling out (see the README's
 * runbook): the client's token is fine and another replica, or this one shortly, can open it. A 503 with
 * Retry-After says so, and the error log names the KEK; any other failure to open is corruption, a 500.
 */
function openSecret(deps: Pick<AuthDeps, 'kek'>, session: Session): Buffer {
  try {
    return deps.kek.unseal(Buffer.from(session.secretSealed), sessionSecretContext(session.id));
  } catch (err) {
    if (!(err instanceof UnsealError) || err.code !== 'unknown_kek') throw err;
    throw new ServiceUnavailableError('This session cannot be refreshed right now. Try again shortly.', {
      code: 'kek_unavailable',
      retryAfterSeconds: 5,
      cause: err,
    });
  }
}

/**
 * Checks a presented refresh token without locking anything: shape, session, MAC. Undefined when it is not
 * an authentic refresh token of ours; a spent one or one of an ended session is still authentic.
 */
export async function findAuthenticRefreshToken(
  deps: Pick<AuthDeps, 'kek'>,
  em: EntityManager,
  token: string,
): Promise<AuthenticRefreshToken | undefined> {
  const parts = parseRefreshToken(token);
  if (!parts) return undefined;
  const session = await new SessionRepository(em).findById(parts.sessionId);
  if (!session) return undefined;
  const secret = openSecret(deps, session);
  if (!isAuthentic(secret, parts)) return undefined;
  return { sessionId: session.id, userId: session.userId, counter: parts.counter, secret };
}

/**
 * `findAuthenticRefreshToken` for a refresh: anything but an authentic token is an invalid grant. The caller
 * can then rate-limit per session before `rotateSession` takes the lock.
 */
export async function authenticateRefreshToken(
  deps: Pick<AuthDeps, 'kek'>,
  em: EntityManager,
  token: string,
): Promise<AuthenticRefreshToken> {
  const found = await findAuthenticRefreshToken(deps, em, token);
  if (!found) throw invalidGrant();
  return found;
}

export type RefreshOutcome =
  | { kind: 'issued'; tokens: IssuedTokens; user: User }
  | { kind: 'rejected'; detail: string };

/**
 * Rotates the session of an authentic refresh token, under the session's row lock. Runs in the caller's
 * transaction and never throws for a replay: the revocation it records must commit, so the caller commits
 * first and then refuses.
 */
export async function rotateSession(
  deps: AuthDeps,
  em: EntityManager,
  { sessionId, counter, secret }: AuthenticRefreshToken,
  now = new Date(),
): Promise<RefreshOutcome> {
  const session = await new SessionRepository(em).lockById(sessionId);
  if (!session || !isLive(session, deps.sessions, now)) {
    return { kind: 'rejected', detail: 'The session has ended. Log in again.' };
  }
  const withinReuseInterval = now.getTime() - session.rotatedAt.getTime() <= deps.sessions.reuseIntervalSeconds * 1000;
  if (counter === session.counter) {
    session.counter += 1;
    session.rotatedAt = now;
  } else if (!(counter === session.counter - 1 && withinReuseInterval)) {
    revoke(deps, em, session, 'refresh_token_reuse', now);
    return { kind: 'rejected', detail: 'This refresh token was already used. The session has been ended for safety.' };
  }
  // Either a fresh rotation, or the just-spent predecessor within the interval: hand out the current successor.
  session.lastActiveAt = now;
  const user = await new UserRepository(em).findById(session.userId);
  if (!user) return { kind: 'rejected', detail: 'The session has ended. Log in again.' };
  return { kind: 'issued', tokens: await issue(deps, session, secret, user, now), user };
}

/** Ends a session and records the event that makes its access tokens stop working everywhere. */
function revoke(
  deps: Pick<AuthDeps, 'outbox'>,
  em: EntityManager,
  session: Session,
  reason: RevocationReason,
  now: Date,
): void {
  if (session.revokedAt !== null) return;
  session.revokedAt = now;
  session.revokedReason = reason;
  deps.outbox.enqueue(em, SESSION_REVOKED, {
    sessionId: session.id,
    userId: session.userId,
    reason,
    tokensExpireBy: epochSeconds(session.accessExpiresAt),
  });
}

export type LogoutScope = 'local' | 'others' | 'global';

/** Ends the caller's session, every other one, or all of them. Call inside a transaction. */
export async function endSessions(
  deps: Pick<AuthDeps, 'outbox'>,
  em: EntityManager,
  {
    userId,
    sessionId,
    scope,
    reason,
  }: { userId: string; sessionId: string; scope: LogoutScope; reason: RevocationReason },
  now = new Date(),
): Promise<number> {
  const sessions = await new SessionRepository(em).liveOfUser(userId);
  const doomed = sessions.filter((s) =>
    scope === 'local' ? s.id === sessionId : scope === 'others' ? s.id !== sessionId : true,
  );
  for (const session of doomed) revoke(deps, em, session, reason, now);
  return doomed.length;
}

/** How long an ended session stays on record (for support and forensics) before it is deleted. */
const ENDED_SESSION_RETENTION_DAYS = 30;

/** Deletes sessions that ended more than the retention period ago. Safe from every replica at once. */
export function sweepEndedSessions(
  deps: Pick<AuthDeps, 'sessions'>,
  em: EntityManager,
  now = new Date(),
): Promise<number> {
  const retention = ENDED_SESSION_RETENTION_DAYS * 86_400_000;
  const endedBefore = new Date(now.getTime() - retention);
  const idleBefore = new Date(endedBefore.getTime() - deps.sessions.idleTimeoutSeconds * 1000);
  return new SessionRepository(em).deleteEnded(endedBefore, idleBefore);
}
