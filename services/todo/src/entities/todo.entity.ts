import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { columnsOf } from '@todo/platform/db';
import { todoFields } from '@todo/platform/events';

/**
 * A todo belongs to exactly one owner (the `sub` of the access token that created it). Its own fields are
 * the columns of the one definition of a todo (`todoFields`); the rest is identity and bookkeeping.
 *
 * The `owner` filter is on by default and needs the owner as its argument: an EntityManager find, count,
 * update or delete that does not name one throws instead of reaching every user's rows. Query-builder and
 * raw queries do not pass through filters; the repository names the owner in each of their WHERE clauses.
 */
export const TodoSchema = defineEntity({
  name: 'Todo',
  tableName: 'todos',
  filters: {
    owner: {
      name: 'owner',
      cond: (args: { ownerId?: unknown }) => {
        if (typeof args.ownerId !== 'string') throw new Error('todo queries must name their owner');
        return { ownerId: args.ownerId };
      },
      default: true,
      args: true,
    },
  },
  properties: {
    id: p.uuid().primary(),
    ownerId: p.uuid(),
    ...columnsOf(todoFields),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    version: p.integer().default(1),
  },
});

export type Todo = InferEntity<typeof TodoSchema>;

/** The argument the `owner` filter needs, for a repository's query options. */
export const ownedBy = (ownerId: string) => ({ filters: { owner: { ownerId } } });
