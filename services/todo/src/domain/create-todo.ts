/**
 * Creating a todo, optionally idempotent (the IETF httpapi Idempotency-Key draft). The key is claimed by
 * inserting a row in the same transaction that creates the todo, so a concurrent request with the same key
 * waits on that row: when the first commits, it replays the stored response; if the first is still running
 * after `waitMs`, it gets a 409. The same key with a different body is a 422. Keys live 24 hours, per owner.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';
import { AppError, ConflictError } from '@todo/platform/errors';
import { TODO_CREATED } from '@todo/platform/events';
import { IdempotencyKeyRepository } from '../repositories/idempotency-key.repository.ts';
import { TodoRepository } from '../repositories/todo.repository.ts';
import type { TodoDeps } from './deps.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

export interface NewTodo {
  title: string;
  description?: string | null | undefined;
  done?: boolean | undefined;
  dueAt?: Date | null | undefined;
}

export interface Idempotency {
  key: string;
  /** The request body as received, before validation: the same key must come with the same body. */
  body: unknown;
}

export interface Created {
  todo: TodoView;
  replayed: boolean;
}

/** JSON with object keys sorted, so that key order does not make two equal bodies differ. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const hashOf = (body: unknown) => createHash('sha256').update(canonical(body)).digest('base64url');

const keyMismatch = () =>
  new AppError({
    status: 422,
    code: 'idempotency_key_mismatch',
    title: 'Unprocessable Content',
    detail: 'This Idempotency-Key was already used with a different request body.',
  });

const keyInUse = () =>
  new ConflictError(
    'A request with this Idempotency-Key is still being processed. Retry later.',
    'idempotency_key_in_use',
  );

/** Inserts the todo and records `todo.created`; call inside a transaction. */
async function insertTodo(deps: TodoDeps, em: EntityManager, ownerId: string, input: NewTodo): Promise<TodoView> {
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
  const view = toTodoView(todo);
  deps.outbox.enqueue(em, TODO_CREATED, { ownerId, todoId: view.id, version: view.version, todo: view });
  return view;
}

/** Creates a todo; a replayed idempotent create returns the first response and changes (and publishes) nothing. */
export async function createTodo(
  deps: TodoDeps,
  em: EntityManager,
  ownerId: string,
  input: NewTodo,
  idempotency?: Idempotency,
): Promise<Created> {
  const created = idempotency
    ? await createIdempotently(deps, em, ownerId, input, idempotency)
    : { todo: await em.transactional((tx) => insertTodo(deps, tx, ownerId, input)), replayed: false };
  if (!created.replayed) deps.outbox.notifyCommitted();
  return created;
}

async function createIdempotently(
  deps: TodoDeps,
  em: EntityManager,
  ownerId: string,
  input: NewTodo,
  idempotency: Idempotency,
): Promise<Created> {
  const requestHash = hashOf(idempotency.body);
  try {
    return await em.transactional(async (tx) => {
      const keys = new IdempotencyKeyRepository(tx);
      await keys.waitAtMost(deps.idempotencyWaitMs);
      if (!(await keys.claim(ownerId, idempotency.key, requestHash))) {
        const first = await keys.read<TodoView>(ownerId, idempotency.key);
        if (!first || first.requestHash !== requestHash) throw keyMismatch();
        if (!first.response) throw keyInUse();
        return { todo: first.response, replayed: true };
      }
      const todo = await insertTodo(deps, tx, ownerId, input);
      await keys.complete(ownerId, idempotency.key, todo);
      return { todo, replayed: false };
    });
  } catch (err) {
    // 55P03 lock_not_available: the first request holding the key did not finish within the wait.
    if ((err as { code?: string }).code === '55P03') throw keyInUse();
    throw err;
  }
}
