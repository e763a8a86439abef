/** Updating and deleting a todo, with optimistic concurrency through If-Match. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { PreconditionFailedError } from '@todo/platform/errors';
import { type TodoChanges, TodoRepository } from '../repositories/todo.repository.ts';
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
  em: EntityManager,
  ownerId: string,
  id: string,
  changes: TodoChanges,
  precondition?: Precondition,
): Promise<TodoView> {
  const changing = Object.keys(changes).length > 0;
  return em.transactional(async (tx) => {
    const repo = new TodoRepository(tx);
    if (changing && !(await repo.update(ownerId, id, changes, new Date(), versionsOf(precondition)))) {
      await explainMiss(repo, ownerId, id);
    }
    const todo = await repo.findOne(ownerId, id);
    if (!todo) throw todoNotFound();
    // An empty patch writes nothing, but If-Match still has to hold.
    if (!changing && precondition && !matches(precondition, todo.version)) throw stale();
    return toTodoView(todo);
  });
}

export async function deleteTodo(
  em: EntityManager,
  ownerId: string,
  id: string,
  precondition?: Precondition,
): Promise<void> {
  const repo = new TodoRepository(em);
  if (!(await repo.delete(ownerId, id, versionsOf(precondition)))) await explainMiss(repo, ownerId, id);
}
