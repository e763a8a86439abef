import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';
import { USER_REGISTERED } from '@todo/platform/events';
import type { RateLimitReport } from '@todo/platform/http';
import { enqueueMail } from '../mail/mail-job.ts';
import { UserRepository } from '../repositories/user.repository.ts';
import type { AuthDeps } from './deps.ts';
import { assertPasswordAcceptable } from './password-policy.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface Registration {
  /** Already trimmed and lower-cased. */
  email: string;
  password: string;
  name?: string | undefined;
  /** The client's address, for the registration limit. */
  ip: string;
  /** Where the limits this request was counted against are reported (the RateLimit headers). */
  limits: RateLimitReport;
}

/** Creates the account and records `auth.user.registered` in the same transaction. */
export async function registerUser(deps: AuthDeps, em: EntityManager, input: Registration): Promise<UserView> {
  await deps.guard.register(input.ip, input.limits);
  assertPasswordAcceptable(input.password, input.email, '/password');
  const passwordHash = await deps.hasher.hash(input.password);
  const user = await em.transactional(async (tx) => {
    const created = await new UserRepository(tx).create({
      id: newId(),
      email: input.email,
      name: input.name ?? null,
      passwordHash,
      now: new Date(),
    });
    deps.outbox.enqueue(tx, USER_REGISTERED, {
      userId: created.id,
      email: created.email,
      createdAt: created.createdAt.toISOString(),
    });
    // The verification link, mailed once this commits.
    await enqueueMail(tx, 'verify_email', created.email);
    return created;
  });
  deps.outbox.notifyCommitted();
  deps.mail.notify();
  return toUserView(user);
}
