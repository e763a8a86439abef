import Router from '@koa/router';
import { ValidationError } from '@todo/platform/errors';
import { rfc3339DateTime, todoFields } from '@todo/platform/events';
import { mergePatchOf, parseBody, parseQuery, plainText } from '@todo/platform/http';
import type { Context } from 'koa';
import { z } from 'zod';
import type { TodoAppDeps, TodoContextState } from '../context.ts';
import { deleteTodo, updateTodo } from '../domain/change-todo.ts';
import { createTodo } from '../domain/create-todo.ts';
import { etagOf, matches, parsePrecondition } from '../domain/etags.ts';
import { getTodo, todoNotFound } from '../domain/get-todo.ts';
import { listTodos } from '../domain/list-todos.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const dateTime = rfc3339DateTime.transform((s) => new Date(s));

/** Both bodies come from the one definition of a todo's fields; omitted members take their defaults on create. */
const createBody = z.strictObject(todoFields);
const patchBody = mergePatchOf(todoFields);

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
  done: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  q: plainText({ min: 1, max: 200 }).optional(),
  dueBefore: dateTime.optional(),
  dueAfter: dateTime.optional(),
  sort: z.enum(['-createdAt', 'createdAt', 'dueAt', '-dueAt']).default('-createdAt'),
});

/**
 * An Idempotency-Key is 1 to 255 printable ASCII characters (U+0020–U+007E), sent either as an RFC 8941
 * sf-string (`"…"`, with `\"` and `\\` escaped) or bare. A bare value need not be an sf-token, so any UUID
 * works as it is; `"abc"` and `abc` are the same key. Over HTTP a value has no leading or trailing whitespace.
 */
const SF_STRING = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"$/;
const NON_ASCII = /[\u0080-\uffff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\x00-\x1F\x7F]/;
const MAX_KEY_LENGTH = 255;
const KEY_GRAMMAR = `An Idempotency-Key is 1 to ${MAX_KEY_LENGTH} printable ASCII characters, sent bare or as an RFC 8941 sf-string ("…").`;

/** What is wrong with a present Idempotency-Key, or its value; never quoting it. */
function readIdempotencyKey(raw: string): { key: string } | { refused: string } {
  if (NON_ASCII.test(raw)) return { refused: 'It must be ASCII: it contains a non-ASCII character.' };
  if (CONTROL.test(raw)) return { refused: 'It must not contain control characters.' };
  let key = raw;
  if (raw.startsWith('"')) {
    const quoted = SF_STRING.exec(raw)?.[1];
    if (quoted === undefined) {
      return {
        refused:
          'It starts with a double quote but is not a valid sf-string: it must end with a closing double quote, and inside it a double quote or a backslash must be escaped with a backslash, and nothing else may be.',
      };
    }
    key = quoted.replace(/\\(["\\])/g, '$1');
  } else if (raw !== raw.trim()) {
    return { refused: 'It must not start or end with whitespace.' };
  }
  if (key === '') return { refused: 'It must not be empty.' };
  if (key.length > MAX_KEY_LENGTH) {
    return { refused: `It is ${key.length} characters long: at most ${MAX_KEY_LENGTH} are allowed.` };
  }
  return { key };
}

function idempotencyKey(ctx: Context): string | undefined {
  // Each field line as sent: Node joins repeated ones into one value, which would read as one bare key.
  const lines = ctx.req.headersDistinct['idempotency-key'];
  if (lines === undefined) return undefined;
  const read =
    lines.length > 1
      ? { refused: `It was sent ${lines.length} times: send it once.` }
      : readIdempotencyKey(lines[0] ?? '');
  if ('refused' in read) {
    throw new ValidationError(
      [{ header: 'Idempotency-Key', detail: `${read.refused} ${KEY_GRAMMAR}` }],
      'The request headers are not valid.',
    );
  }
  return read.key;
}

/** If-Match and If-None-Match hold a list of entity tags; a list this long names none a client was given. */
const MAX_PRECONDITION_LENGTH = 1024;

/** A precondition header as sent, once its length is known to be sane; parsed by `parsePrecondition`. */
function preconditionHeader(ctx: Context, name: 'If-Match' | 'If-None-Match'): string {
  const value = ctx.get(name);
  if (value.length > MAX_PRECONDITION_LENGTH) {
    throw new ValidationError(
      [{ header: name, detail: `Must be at most ${MAX_PRECONDITION_LENGTH} characters long.` }],
      'The request headers are not valid.',
    );
  }
  return value;
}

/** A malformed id cannot name any todo: it is a 404 like any other unknown id, not a 422. */
function todoId(raw: string | undefined): string {
  if (!raw || !UUID.test(raw)) throw todoNotFound();
  return raw.toLowerCase();
}

export function todoRoutes(deps: TodoAppDeps): Router<TodoContextState> {
  const router = new Router<TodoContextState>({ prefix: '/todos' });

  router.post('/', async (ctx) => {
    const input = parseBody(createBody, ctx.request.body);
    const key = idempotencyKey(ctx);
    const { todo, replayed } = await createTodo(deps.todos, ctx.state.em, {
      ownerId: ctx.state.principal.userId,
      todo: input,
      ...(key ? { idempotency: { key, body: ctx.request.body } } : {}),
    });
    ctx.status = 201;
    ctx.set('Location', `/todos/${todo.id}`);
    ctx.set('ETag', etagOf(todo.version));
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = todo;
  });

  router.get('/', async (ctx) => {
    const query = parseQuery(listQuery, ctx.query);
    ctx.body = await listTodos(deps.todos, ctx.state.em, { ...query, ownerId: ctx.state.principal.userId });
  });

  router.get('/:id', async (ctx) => {
    const id = todoId(ctx.params.id);
    const ifNoneMatch = parsePrecondition(preconditionHeader(ctx, 'If-None-Match'), 'weak');
    const todo = await getTodo(deps.todos, ctx.state.em, { ownerId: ctx.state.principal.userId, id });
    ctx.set('ETag', etagOf(todo.version));
    if (ifNoneMatch && matches(ifNoneMatch, todo.version)) {
      ctx.status = 304;
      return;
    }
    ctx.body = todo;
  });

  router.patch('/:id', async (ctx) => {
    const id = todoId(ctx.params.id);
    const patch = parseBody(patchBody, ctx.request.body);
    const todo = await updateTodo(deps.todos, ctx.state.em, {
      ownerId: ctx.state.principal.userId,
      id,
      patch,
      precondition: parsePrecondition(preconditionHeader(ctx, 'If-Match'), 'strong'),
    });
    ctx.set('ETag', etagOf(todo.version));
    ctx.body = todo;
  });

  router.delete('/:id', async (ctx) => {
    const id = todoId(ctx.params.id);
    await deleteTodo(deps.todos, ctx.state.em, {
      ownerId: ctx.state.principal.userId,
      id,
      precondition: parsePrecondition(preconditionHeader(ctx, 'If-Match'), 'strong'),
    });
    ctx.status = 204;
  });

  return router;
}
