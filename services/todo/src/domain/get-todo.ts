import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError } from '@todo/platform/errors';
import { TodoRepository } from '../repositories/todo.repository.ts';
import type { TodoDeps } from './deps.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

/** Someone else's todo and a todo that never existed are the same answer: 404. */
export const todoNotFound = () => new NotFoundError('No todo with this id exists.');

export async function getTodo(
  _deps: TodoDeps,
  em: EntityManager,
  { ownerId, id }: { ownerId: string; id: string },
): Promise<TodoView> {
  const todo = await new TodoRepository(em).findOne(ownerId, id);
  if (!todo) throw todoNotFound();
  return toTodoView(todo);
}
