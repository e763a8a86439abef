/** Updating and deleting a todo, with optimistic concurrency through If-Match. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { PreconditionFailedError } from '@todo/platform/errors';
import { TODO_DELETED, TODO_UPDATED } from '@todo/platform/events';
import { type TodoChanges, TodoRepository } from '../repositories/todo.repository.ts';
import type { TodoDeps } from './deps.ts';
import { matches, type Precondition } from './etags.ts';
import { todoNotFound } from './get-todo.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

const stale = () =>
  new PreconditionFailedError('The todo has changed since that version was read. Fetch it again and retry.');

const versionsOf = (precondition: Precondition | undefined): number[] | undefined =>
  precondition === undefined || 'any' in precondition ? undefined : precondition.versions;

/** After a write matched no row: was it someone else's or missing (404), or ours but changed (412)? */
async function explainMiss(repo: TodoRepository, ownerId: string, id: string): Promise<never> {
  throw (await repo.exists(ownerId, id)) ? stale() : todoNotFound();
}

/**
 * Applies an RFC 7396 merge patch. Every PATCH with a field advances the version by exactly one, even under
 * concurrency; an empty patch changes nothing and returns the todo as it is.
 */
export async function updateTodo(
  deps: TodoDeps,
  em: EntityManager,
  ownerId: string,
  id: string,
  changes: TodoChanges,
  precondition?: Precondition,
): Promise<TodoView> {
  const changing = Object.keys(changes).length > 0;
  const view = await em.transactional(async (tx) => {
    const repo = new TodoRepository(tx);
    if (changing && !(await repo.update(ownerId, id, changes, new Date(), versionsOf(precondition)))) {
      await explainMiss(repo, ownerId, id);
    }
    const todo = await repo.findOne(ownerId, id);
    if (!todo) throw todoNotFound();
    // An empty patch writes nothing, but If-Match still has to hold.
    if (!changing && precondition && !matches(precondition, todo.version)) throw stale();
    const view = toTodoView(todo);
    if (changing) deps.outbox.enqueue(tx, TODO_UPDATED, { ownerId, todoId: id, version: view.version, todo: view });
    return view;
  });
  if (changing) deps.outbox.notifyCommitted();
  return view;
}

export async function deleteTodo(
  deps: TodoDeps,
  em: EntityManager,
  ownerId: string,
  id: string,
  precondition?: Precondition,
): Promise<void> {
  await em.transactional(async (tx) => {
    const repo = new TodoRepository(tx);
    const version = await repo.delete(ownerId, id, versionsOf(precondition));
    if (version === undefined) return explainMiss(repo, ownerId, id);
    // The deletion is the todo's last change, one version above the one it had.
    deps.outbox.enqueue(tx, TODO_DELETED, { ownerId, todoId: id, version: version + 1, reason: 'deleted' });
  });
  deps.outbox.notifyCommitted();
}

/**
 * Deletes every todo of an owner whose account was deleted, recording `todo.deleted` for each. Idempotent:
 * a second run finds nothing, deletes nothing and records nothing. Returns how many went.
 */
export async function forgetOwner(deps: Pick<TodoDeps, 'outbox'>, em: EntityManager, ownerId: string): Promise<number> {
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
