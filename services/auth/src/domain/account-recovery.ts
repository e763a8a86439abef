/**
 * Getting back into an account and proving an address: email verification and password reset. Each request
 * for a mail writes a mail job in its own transaction (nothing is lost on a crash); the mail relay composes the
 * mail and makes its one-time token in the transaction that marks the job sent (`composeRecoveryMail`), so a
 * token exists only once its mail was handed over. A reset request does the same work whether or not the
 * address has an account, and answers the same: who has an account is never told.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '@todo/platform/auth';
import { USER_EMAIL_VERIFIED } from '@todo/platform/events';
import type { RateLimitReport } from '@todo/platform/http';
import { type ComposeMail, enqueueMail, type MailJob, type MailKind } from '../mail/mail-job.ts';
import { renderMail } from '../mail/templates.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import { currentSession } from './current-session.ts';
import type { AuthDeps } from './deps.ts';
import { checkOneTimeToken, issueOneTimeToken, withdrawOneTimeTokens } from './one-time-tokens.ts';
import { assertPasswordAcceptable } from './password-policy.ts';
import { endSessions } from './sessions.ts';

/** Asks for a reset link. Counted, written, and answered alike whether or not the address has an account. */
export async function requestPasswordReset(
  deps: AuthDeps,
  em: EntityManager,
  { email, ip, limits }: { email: string; ip: string; limits: RateLimitReport },
): Promise<void> {
  await deps.guard.mailRequest(email, ip, limits);
  await em.transactional((tx) => enqueueMail(tx, 'reset_password', email));
  deps.mail.notify();
}

/**
 * Sets a new password with a reset link's token, spends the token, withdraws the user's other tokens and ends
 * every session (the revocations reach the other services through the outbox).
 */
export async function confirmPasswordReset(
  deps: AuthDeps,
  em: EntityManager,
  { token, newPassword }: { token: string; newPassword: string },
): Promise<void> {
  // A look first, without spending: no argon2 run for a token that is not even valid.
  const userId = await checkOneTimeToken(em, token, 'reset_password');
  const user = await new UserRepository(em).findById(userId);
  if (!user) throw new Error(`one-time token of a missing user ${userId}`);
  assertPasswordAcceptable(newPassword, user.email, '/newPassword');
  const hash = await deps.hasher.hash(newPassword);
  await em.transactional(async (tx) => {
    await checkOneTimeToken(tx, token, 'reset_password', { spend: true });
    const now = new Date();
    await new UserRepository(tx).setPasswordHash(userId, hash, now);
    await withdrawOneTimeTokens(tx, userId);
    await deps.guard.forgetClients(tx, user.email);
    await endSessions(deps, tx, { userId, sessionId: '', scope: 'global', reason: 'password_changed' }, now);
  });
  deps.outbox.notifyCommitted();
}

/** Marks the address of a verification link's token verified and spends the token. */
export async function verifyEmail(deps: AuthDeps, em: EntityManager, { token }: { token: string }): Promise<void> {
  await em.transactional(async (tx) => {
    const userId = await checkOneTimeToken(tx, token, 'verify_email', { spend: true });
    const now = new Date();
    // Only the first proof counts (the token is spent either way); other services learn of it once.
    if (await new UserRepository(tx).markEmailVerified(userId, now)) {
      deps.outbox.enqueue(tx, USER_EMAIL_VERIFIED, { userId, verifiedAt: now.toISOString() });
    }
  });
  deps.outbox.notifyCommitted();
}

/** Sends the signed-in user a new verification link (none if the address is verified already). */
export async function resendVerification(
  deps: AuthDeps,
  em: EntityManager,
  { principal, ip, limits }: { principal: Principal; ip: string; limits: RateLimitReport },
): Promise<void> {
  const { user } = await currentSession(deps, em, principal);
  await deps.guard.mailRequest(user.email, ip, limits);
  if (user.emailVerifiedAt) return;
  await em.transactional((tx) => enqueueMail(tx, 'verify_email', user.email));
  deps.mail.notify();
}

/** What each kind of mail links to, and how long its token lives. */
const LINKS: Record<MailKind, { page: string; ttlSeconds: (settings: AuthDeps['recovery']) => number }> = {
  verify_email: { page: '/verify-email', ttlSeconds: (s) => s.verificationTtlSeconds },
  reset_password: { page: '/reset-password', ttlSeconds: (s) => s.resetTtlSeconds },
};

/** The mail of a job, with its fresh token; nothing for an address without an account or already verified. */
export const composeRecoveryMail =
  (deps: Pick<AuthDeps, 'recovery'>): ComposeMail =>
  async (tx: EntityManager, job: MailJob) => {
    const user = await new UserRepository(tx).findByEmail(job.email);
    if (!user || (job.kind === 'verify_email' && user.emailVerifiedAt)) return undefined;
    const { page, ttlSeconds } = LINKS[job.kind];
    const ttl = ttlSeconds(deps.recovery);
    const token = await issueOneTimeToken(tx, { userId: user.id, purpose: job.kind, ttlSeconds: ttl });
    return renderMail(job.kind, {
      to: user.email,
      link: linkTo(deps.recovery.publicAppUrl, page, token),
      expiresInMinutes: Math.round(ttl / 60),
    });
  };

/**
 * `<app>/<page>#token=<token>`: in the fragment, which a browser sends to no server and puts in no Referer, so
 * the token stays out of access logs, proxies and analytics.
 */
function linkTo(publicAppUrl: string, page: string, token: string): string {
  const url = new URL(publicAppUrl);
  url.pathname = `${url.pathname.replace(/\/$/, '')}${page}`;
  url.hash = `token=${token}`;
  return url.toString();
}
