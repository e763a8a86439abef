import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError } from '@todo/platform/errors';
import { CredentialSchema } from '../entities/credential.entity.ts';
import { type User, UserSchema } from '../entities/user.entity.ts';

export interface NewUser {
  id: string;
  email: string;
  name: string | null;
  passwordHash: string;
  now: Date;
}

export class UserRepository {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  findById(id: string): Promise<User | null> {
    return this.#em.findOne(UserSchema, { id });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.#em.findOne(UserSchema, { email });
  }

  /** Records that the user proved the address theirs; the first proof's time stays. Whether this was the first. */
  async markEmailVerified(userId: string, now: Date): Promise<boolean> {
    const changed = await this.#em.nativeUpdate(
      UserSchema,
      { id: userId, emailVerifiedAt: null },
      { emailVerifiedAt: now, updatedAt: now },
    );
    return changed > 0;
  }

  /** The user and their password hash in one round trip, whether or not the email exists (same cost). */
  async findWithPasswordHash(email: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const [row] = await this.#em.execute<(Record<string, unknown> & { password_hash: string })[]>(
      'select u.*, c.password_hash from auth.users u join auth.credentials c on c.user_id = u.id where u.email = ?',
      [email],
    );
    return row ? { user: this.#em.map(UserSchema, row) as User, passwordHash: row.password_hash } : undefined;
  }

  async passwordHashOf(userId: string): Promise<string | undefined> {
    const credential = await this.#em.findOne(CredentialSchema, { userId });
    return credential?.passwordHash;
  }

  async setPasswordHash(userId: string, passwordHash: string, now: Date): Promise<void> {
    await this.#em.nativeUpdate(CredentialSchema, { userId }, { passwordHash, updatedAt: now });
  }

  /** Deletes the user; its credential and sessions go with it (foreign keys cascade). */
  async delete(userId: string): Promise<void> {
    await this.#em.nativeDelete(UserSchema, { id: userId });
  }

  /** Inserts the user and its credential together; a taken email is a ConflictError. */
  async create({ id, email, name, passwordHash, now }: NewUser): Promise<User> {
    const user = { id, email, name, emailVerifiedAt: null, createdAt: now, updatedAt: now };
    try {
      await this.#em.transactional(async (tx) => {
        await tx.insert(UserSchema, user);
        await tx.insert(CredentialSchema, { userId: id, passwordHash, updatedAt: now });
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) {
        throw new ConflictError('An account with this email already exists.', 'email_taken');
      }
      throw err;
    }
    return user as User;
  }
}
