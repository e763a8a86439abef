import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Session, SessionSchema } from '../entities/session.entity.ts';

/** Queries on sessions. Reads that precede a change take a row lock; call those inside a transaction. */
export class SessionRepository {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  add(session: Session): Session {
    return this.#em.create(SessionSchema, session);
  }

  findById(id: string): Promise<Session | null> {
    return this.#em.findOne(SessionSchema, { id });
  }

  /** Locks the row until the transaction ends, so concurrent refreshes of one session run one at a time. */
  lockById(id: string): Promise<Session | null> {
    return this.#em.findOne(SessionSchema, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  }

  liveOfUser(userId: string): Promise<Session[]> {
    return this.#em.find(
      SessionSchema,
      { userId, revokedAt: null },
      { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { createdAt: 'asc' } },
    );
  }

  allOfUser(userId: string): Promise<Session[]> {
    return this.#em.find(SessionSchema, { userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  }

  /**
   * Maintenance across users: deletes sessions that ended (revoked, past their absolute end, or idle past
   * `idleBefore`) before `endedBefore`. Their tokens are long expired; the rows only document history.
   */
  async deleteEnded(endedBefore: Date, idleBefore: Date): Promise<number> {
    return this.#em.nativeDelete(SessionSchema, {
      $or: [
        { revokedAt: { $lt: endedBefore } },
        { expiresAt: { $lt: endedBefore } },
        { lastActiveAt: { $lt: idleBefore } },
      ],
    });
  }
}
