import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '@todo/platform/errors';
import { TodoRepository } from '../repositories/todo.repository.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

export interface ListRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface TodoPage {
  items: TodoView[];
  nextCursor: string | null;
}

interface Position {
  createdAt: Date;
  id: string;
}

const encodeCursor = (p: Position): string =>
  Buffer.from(JSON.stringify([p.createdAt.toISOString(), p.id]), 'utf8').toString('base64url');

function decodeCursor(cursor: string): Position {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const date = new Date(String(createdAt));
    if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(date.getTime())) throw new Error();
    return { createdAt: date, id };
  } catch {
    throw new ValidationError([{ parameter: 'cursor', detail: 'This cursor was not issued by this API.' }]);
  }
}

export async function listTodos(em: EntityManager, ownerId: string, request: ListRequest): Promise<TodoPage> {
  const after = request.cursor ? decodeCursor(request.cursor) : undefined;
  // One row more than asked tells whether another page exists, without a COUNT.
  const rows = await new TodoRepository(em).list(ownerId, { limit: request.limit + 1, after });
  const page = rows.slice(0, request.limit);
  const last = page.at(-1);
  return {
    items: page.map(toTodoView),
    nextCursor: rows.length > request.limit && last ? encodeCursor(last) : null,
  };
}
