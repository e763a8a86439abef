/**
 * Creating a todo, optionally idempotent (the IETF httpapi Idempotency-Key draft). The key is claimed by
 * inserting a row in the same transaction that creates the todo, so a concurrent request with the same key
 * waits on that row: when the first commits, it replays the stored response; if the first is still running
 * after the wait, it gets a 409. The same key with a different body is a 422. Keys live 24 hours, per owner.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId, toStored } from '@todo/platform/db';
import { ConflictError, UnprocessableError } from '@todo/platform/errors';
import { TODO_CREATED, todoFields } from '@todo/platform/events';
import type { z } from 'zod';
import { IdempotencyKeyRepository } from '../repositories/idempotency-key.repository.ts';
import { TodoRepository } from '../repositories/todo.repository.ts';
import type { TodoDeps } from './deps.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

/** A new todo's fields, as the create body parses them (omitted ones at their defaults). */
type NewTodo = z.output<z.ZodObject<typeof todoFields>>;

export interface CreateTodo {
  ownerId: string;
  todo: NewTodo;
  idempotency?: {
    key: string;
    /** The request body as received, before validation: the same key must come with the same body. */
    body: unknown;
  };
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

/** Inserts the todo and records `todo.created`, in one statement (inside the transaction `em` is in, if any). */
async function insertTodo(deps: TodoDeps, em: EntityManager, ownerId: string, input: NewTodo): Promise<TodoView> {
  const now = new Date();
  const todo = { id: newId(), ...toStored(todoFields, input), createdAt: now, updatedAt: now, version: 1 };
  const view = toTodoView({ ...todo, ownerId });
  await deps.outbox.withChange(em, new TodoRepository(em).insertStatement(ownerId, todo), TODO_CREATED, {
    ownerId,
    todoId: view.id,
    version: view.version,
    todo: view,
  });
  return view;
}

/** Creates a todo; a replayed idempotent create returns the first response and changes (and publishes) nothing. */
export async function createTodo(deps: TodoDeps, em: EntityManager, input: CreateTodo): Promise<Created> {
  if (!input.idempotency) {
    // One statement, atomic on its own: no transaction to open and commit around it.
    const todo = await insertTodo(deps, em, input.ownerId, input.todo);
    deps.outbox.notifyCommitted();
    return { todo, replayed: false };
  }
  const { idempotency } = input;
  const created = await em.transactional(async (tx) => {
    const { key, body } = idempotency;
    const keys = new IdempotencyKeyRepository(tx);
    const requestHash = hashOf(body);
    const claim = await keys.claim(input.ownerId, key, requestHash, deps.idempotencyWaitMs);
    if (claim === 'busy') throw keyInUse();
    if (claim === 'taken') {
      const first = await keys.read<TodoView>(input.ownerId, key);
      if (!first || first.requestHash !== requestHash) {
        throw new UnprocessableError(
          'This Idempotency-Key was already used with a different request body.',
          'idempotency_key_mismatch',
        );
      }
      if (!first.response) throw keyInUse();
      return { todo: first.response, replayed: true };
    }
    const todo = await insertTodo(deps, tx, input.ownerId, input.todo);
    await keys.complete(input.ownerId, key, todo);
    return { todo, replayed: false };
  });
  if (!created.replayed) deps.outbox.notifyCommitted();
  return created;
}

const keyInUse = () =>
  new ConflictError(
    'A request with this Idempotency-Key is still being processed. Retry later.',
    'idempotency_key_in_use',
  );
