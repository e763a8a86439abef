/** Updating and deleting a todo, with optimistic concurrency through If-Match; forgetting a deleted owner's todos. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { toStored } from '@todo/platform/db';
import { PreconditionFailedError } from '@todo/platform/errors';
import { TODO_DELETED, TODO_UPDATED, todoFields } from '@todo/platform/events';
import type { z } from 'zod';
import { TodoRepository } from '../repositories/todo.repository.ts';
import type { TodoDeps } from './deps.ts';
import { matches, type Precondition } from './etags.ts';
import { todoNotFound } from './get-todo.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

/** An RFC 7396 merge patch of a todo's own fields, as the patch body parses it: absent members stay as they are. */
export type TodoPatch = Partial<z.output<z.ZodObject<typeof todoFields>>>;

const stale = () =>
  new PreconditionFailedError('The todo has changed since that version was read. Fetch it again and retry.');

const versionsOf = (precondition: Precondition | undefined): number[] | undefined =>
  precondition === undefined || 'any' in precondition ? undefined : precondition.versions;

/** After a write matched no row: was it someone else's or missing (404), or ours but changed (412)? */
async function explainMiss(repo: TodoRepository, ownerId: string, id: string): Promise<never> {
  throw (await repo.exists(ownerId, id)) ? stale() : todoNotFound();
}

/**
 * Applies a merge patch. Every PATCH with a member advances the version by exactly one, even under
 * concurrency, and records `todo.updated`; an empty patch changes nothing and returns the todo as it is.
 */
export async function updateTodo(
  deps: TodoDeps,
  em: EntityManager,
  { ownerId, id, patch, precondition }: { ownerId: string; id: string; patch: TodoPatch; precondition?: Precondition },
): Promise<TodoView> {
  const changes = toStored(todoFields, patch);
  if (Object.keys(changes).length === 0) {
    // An empty patch writes nothing (no transaction needed), but If-Match still has to hold.
    const todo = await new TodoRepository(em).findOne(ownerId, id);
    if (!todo) throw todoNotFound();
    if (precondition && !matches(precondition, todo.version)) throw stale();
    return toTodoView(todo);
  }
  const repo = new TodoRepository(em);
  const versions = versionsOf(precondition);
  // The update and its event in one statement; no row matched, no event.
  const [row] =
    versions?.length === 0
      ? []
      : await deps.outbox.withChange<
          Parameters<TodoRepository['changedTodo']>[0],
          typeof TODO_UPDATED,
          'version' | 'todo'
        >(
          em,
          repo.updateStatement(ownerId, id, changes, new Date(), versions),
          TODO_UPDATED,
          { ownerId, todoId: id },
          { version: 'version', todo: 'representation' },
        );
  if (!row) return explainMiss(repo, ownerId, id);
  deps.outbox.notifyCommitted();
  return toTodoView(repo.changedTodo(row));
}

/** Deletes a todo and records `todo.deleted`, whose version is one above the one the todo had. */
export async function deleteTodo(
  deps: TodoDeps,
  em: EntityManager,
  { ownerId, id, precondition }: { ownerId: string; id: string; precondition?: Precondition },
): Promise<void> {
  const repo = new TodoRepository(em);
  const versions = versionsOf(precondition);
  // The delete and its event in one statement; no row matched, no event.
  const deleted =
    versions?.length === 0
      ? []
      : await deps.outbox.withChange(
          em,
          repo.deleteStatement(ownerId, id, versions),
          TODO_DELETED,
          { ownerId, todoId: id, reason: 'deleted' },
          { version: 'deleted_version' },
        );
  if (deleted.length === 0) return explainMiss(repo, ownerId, id);
  deps.outbox.notifyCommitted();
}

/**
 * Deletes every todo of an owner whose account was deleted, recording `todo.deleted` for each. Idempotent:
 * a second run finds nothing, deletes nothing and records nothing. Returns how many went.
 */
export async function forgetOwner(
  deps: TodoDeps,
  em: EntityManager,
  { ownerId }: { ownerId: string },
): Promise<number> {
  const gone = await em.transactional(async (tx) => {
    const rows = await new TodoRepository(tx).deleteAllOf(ownerId);
    for (const { id, version } of rows) {
      deps.outbox.enqueue(tx, TODO_DELETED, { ownerId, todoId: id, version: version + 1, reason: 'owner_deleted' });
    }
    return rows.length;
  });
  if (gone > 0) deps.outbox.notifyCommitted();
  return gone;
}
