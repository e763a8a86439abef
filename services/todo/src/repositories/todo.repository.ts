/**
 * Every query on todos. The owner is the first argument of every method and part of every WHERE
 * clause: there is no way to reach a row without naming whose it is.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Todo, TodoSchema } from '../entities/todo.entity.ts';

export interface PageRequest {
  limit: number;
  /** Keyset position: the last item of the previous page, newest-first order. */
  after?: { createdAt: Date; id: string } | undefined;
}

export class TodoRepository {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  findOne(ownerId: string, id: string): Promise<Todo | null> {
    return this.#em.findOne(TodoSchema, { ownerId, id });
  }

  list(ownerId: string, { limit, after }: PageRequest): Promise<Todo[]> {
    const where = after
      ? {
          ownerId,
          $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, id: { $lt: after.id } }],
        }
      : { ownerId };
    return this.#em.find(TodoSchema, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit });
  }

  /** Every todo of an owner, for an account deletion. Returns how many went. */
  deleteAllOf(ownerId: string): Promise<number> {
    return this.#em.nativeDelete(TodoSchema, { ownerId });
  }

  async insert(ownerId: string, todo: Omit<Todo, 'ownerId'>): Promise<Todo> {
    const row = { ...todo, ownerId };
    await this.#em.insert(TodoSchema, row);
    return row;
  }
}
