import type { Todo } from '../entities/todo.entity.ts';

/** The public shape of a todo. `ownerId` never leaves the service: the caller is always the owner. */
export interface TodoView {
  id: string;
  title: string;
  description: string | null;
  done: boolean;
  dueAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export const toTodoView = (todo: Todo): TodoView => ({
  id: todo.id,
  title: todo.title,
  description: todo.description ?? null,
  done: todo.done,
  dueAt: todo.dueAt ? todo.dueAt.toISOString() : null,
  createdAt: todo.createdAt.toISOString(),
  updatedAt: todo.updatedAt.toISOString(),
  version: todo.version,
});
