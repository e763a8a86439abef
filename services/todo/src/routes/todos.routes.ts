import Router from '@koa/router';
import { parseBody, parseQuery, plainText } from '@todo/platform/http';
import { z } from 'zod';
import type { TodoAppDeps, TodoContextState } from '../app.ts';
import { createTodo } from '../domain/create-todo.ts';
import { getTodo, todoNotFound } from '../domain/get-todo.ts';
import { listTodos } from '../domain/list-todos.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const createBody = z.strictObject({
  title: plainText({ min: 1, max: 500 }),
  description: plainText({ min: 0, max: 10_000 }).nullable().optional(),
  done: z.boolean().optional(),
  dueAt: z.iso
    .datetime({ offset: true, message: 'Must be an RFC 3339 date-time.' })
    .transform((s) => new Date(s))
    .nullable()
    .optional(),
});

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

/** A malformed id cannot name any todo: it is a 404 like any other unknown id, not a 422. */
function todoId(raw: string): string {
  if (!UUID.test(raw)) throw todoNotFound();
  return raw.toLowerCase();
}

export function todoRoutes(_deps: TodoAppDeps): Router<TodoContextState> {
  const router = new Router<TodoContextState>({ prefix: '/todos' });

  router.post('/', async (ctx) => {
    const input = parseBody(createBody, ctx.request.body);
    const todo = await createTodo(ctx.state.em, ctx.state.principal.userId, input);
    ctx.status = 201;
    ctx.set('Location', `/todos/${todo.id}`);
    ctx.body = todo;
  });

  router.get('/', async (ctx) => {
    const query = parseQuery(listQuery, ctx.query);
    ctx.body = await listTodos(ctx.state.em, ctx.state.principal.userId, query);
  });

  router.get('/:id', async (ctx) => {
    ctx.body = await getTodo(ctx.state.em, ctx.state.principal.userId, todoId(ctx.params.id ?? ''));
  });

  return router;
}
