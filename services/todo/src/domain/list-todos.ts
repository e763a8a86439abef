/**
 * Listing with keyset pagination. The cursor carries the position after which the next page starts and a
 * fingerprint of the query it belongs to, so it cannot be replayed against a different order or filter.
 * No COUNT: one row beyond the page says whether there is another.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '@todo/platform/errors';
import { z } from 'zod';
import {
  type KeysetPosition,
  type ListFilter,
  type SortOrder,
  TodoRepository,
} from '../repositories/todo.repository.ts';
import type { TodoDeps } from './deps.ts';
import { type TodoView, toTodoView } from './todo-view.ts';

export interface ListRequest extends ListFilter {
  sort: SortOrder;
  limit: number;
  cursor?: string | undefined;
}

export interface TodoPage {
  items: TodoView[];
  nextCursor: string | null;
}

/**
 * The sort key exactly as PostgreSQL prints a timestamptz (`2026-11-29 19:23:36.608+00`), or ±infinity for
 * an undated todo; anything else was not written by this service and never reaches a query.
 */
const SORT_KEY =
  /^(?:-?infinity|(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?[+-](\d{2})(?::(\d{2}))?)$/;

/**
 * Well-formed is not enough: 2026-02-30, 25:00 or a UTC offset of +99 must not reach PostgreSQL either, which
 * refuses them with an error (a 500) instead of a row. It has no year 0 (1 BC is `0001-… BC`, a spelling
 * refused here) and takes offsets up to 15:59 either way.
 */
function isRealTimestamp(key: string): boolean {
  if (key === 'infinity' || key === '-infinity') return true;
  const fields = SORT_KEY.exec(key)?.slice(1);
  if (!fields) return false;
  // An offset without minutes (`+05`) has 0 of them.
  const [year, month, day, hours, minutes, seconds, offsetHours, offsetMinutes] = fields.map((field) =>
    Number(field ?? 0),
  ) as [number, number, number, number, number, number, number, number];
  if (year < 1 || offsetHours > 15 || offsetMinutes > 59) return false;
  // setUTCFullYear, not Date.UTC: that one reads years 0–99 as 1900–1999.
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hours, minutes, seconds);
  return (
    at.getUTCFullYear() === year &&
    at.getUTCMonth() === month - 1 &&
    at.getUTCDate() === day &&
    at.getUTCHours() === hours &&
    at.getUTCMinutes() === minutes &&
    at.getUTCSeconds() === seconds
  );
}

const cursorSchema = z.strictObject({
  v: z.literal(1),
  f: z.string().length(16),
  k: z.string().regex(SORT_KEY),
  id: z.uuid(),
});

function fingerprint(request: ListRequest): string {
  const shape = [
    request.sort,
    request.done ?? null,
    request.q ?? null,
    request.dueBefore?.toISOString() ?? null,
    request.dueAfter?.toISOString() ?? null,
  ];
  return createHash('sha256').update(JSON.stringify(shape)).digest('base64url').slice(0, 16);
}

const badCursor = () =>
  new ValidationError(
    [{ parameter: 'cursor', detail: 'This cursor was not issued for this query.' }],
    'The query string is not valid.',
  );

function decodeCursor(cursor: string, request: ListRequest): KeysetPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  const parsed = cursorSchema.safeParse(decoded);
  if (!parsed.success || parsed.data.f !== fingerprint(request)) throw badCursor();
  if (!isRealTimestamp(parsed.data.k)) throw badCursor();
  return { key: parsed.data.k, id: parsed.data.id };
}

const encodeCursor = (position: KeysetPosition, request: ListRequest): string =>
  Buffer.from(JSON.stringify({ v: 1, f: fingerprint(request), k: position.key, id: position.id }), 'utf8').toString(
    'base64url',
  );

export async function listTodos(
  _deps: TodoDeps,
  em: EntityManager,
  { ownerId, ...request }: ListRequest & { ownerId: string },
): Promise<TodoPage> {
  const after = request.cursor ? decodeCursor(request.cursor, request) : undefined;
  const rows = await new TodoRepository(em).list(ownerId, { ...request, limit: request.limit + 1, after });
  const page = rows.slice(0, request.limit);
  const last = page.at(-1);
  return {
    items: page.map((row) => toTodoView(row.todo)),
    nextCursor: rows.length > request.limit && last ? encodeCursor({ key: last.key, id: last.todo.id }, request) : null,
  };
}
