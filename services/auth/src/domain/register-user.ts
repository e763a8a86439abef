import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';
import { ValidationError } from '@todo/platform/errors';
import { type Outbox, USER_REGISTERED } from '@todo/platform/events';
import { UserRepository } from '../repositories/user.repository.ts';
import type { PasswordHasher } from './passwords.ts';
import { toUserView, type UserView } from './user-view.ts';

export interface Registration {
  /** Already trimmed and lower-cased. */
  email: string;
  password: string;
  name?: string | undefined;
}

export interface RegisterDeps {
  em: EntityManager;
  hasher: PasswordHasher;
  outbox: Outbox;
}

/** NIST SP 800-63B: length, not composition; but a password built from the email is refused. */
export function assertPasswordAcceptable(password: string, email: string): void {
  const localPart = email.split('@')[0] ?? '';
  if (localPart.length >= 3 && password.toLowerCase().includes(localPart)) {
    throw new ValidationError(
      [{ pointer: '/password', detail: 'The password must not contain the email address.' }],
      'The password is too easy to guess.',
    );
  }
}

/** Creates the account and records `auth.user.registered` in the same transaction. */
export async function registerUser({ em, hasher, outbox }: RegisterDeps, input: Registration): Promise<UserView> {
  assertPasswordAcceptable(input.password, input.email);
  const passwordHash = await hasher.hash(input.password);
  const user = await em.transactional(async (tx) => {
    const created = await new UserRepository(tx).create({
      id: newId(),
      email: input.email,
      name: input.name ?? null,
      passwordHash,
      now: new Date(),
    });
    outbox.enqueue(tx, USER_REGISTERED, {
      userId: created.id,
      email: created.email,
      createdAt: created.createdAt.toISOString(),
    });
    return created;
  });
  outbox.notifyCommitted();
  return toUserView(user);
}
