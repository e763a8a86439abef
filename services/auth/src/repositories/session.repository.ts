import type { EntityManager } from '@mikro-orm/postgresql';
import { type Session, SessionSchema } from '../entities/session.entity.ts';

export class SessionRepository {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async start(session: Session): Promise<Session> {
    await this.#em.insert(SessionSchema, session);
    return session;
  }
}
