import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';
import { TodoRepository } from '../repositories/todo.repository.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

export interface NewTodo {
  title: string;
  description?: string | null | undefined;
  done?: boolean | undefined;
  dueAt?: Date | null | undefined;
}

export async function createTodo(em: EntityManager, ownerId: string, input: NewTodo): Promise<TodoView> {
  const now = new Date();
  const todo = await new TodoRepository(em).insert(ownerId, {
    id: newId(),
    title: input.title,
    description: input.description ?? null,
    done: input.done ?? false,
    dueAt: input.dueAt ?? null,
    createdAt: now,
    updatedAt: now,
    version: 1,
  });
  return toTodoView(todo);
}
