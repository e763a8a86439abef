import { toJson } from '@todo/platform/db';
import { type TodoRepresentation, todoFields } from '@todo/platform/events';
import type { Todo } from '../entities/todo.entity.ts';

/**
 * The public shape of a todo, in API responses and in events alike. `ownerId` never leaves the service in
 * a response: the caller is always the owner.
 */
export type TodoView = TodoRepresentation;

export const toTodoView = (todo: Todo): TodoView => ({
  id: todo.id,
  ...toJson(todoFields, todo),
  createdAt: todo.createdAt.toISOString(),
  updatedAt: todo.updatedAt.toISOString(),
  version: todo.version,
});
