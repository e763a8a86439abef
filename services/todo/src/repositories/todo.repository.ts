/**
 * Every query on todos. The owner is the first argument of every method and part of every WHERE clause:
 * there is no way to reach a row without saying whose it is. Reads and changes are SQL written out here, every
 * value a parameter (building them with the query builder cost more CPU than the rest of a request), their rows
 * mapped to plain Todo objects by the driver, never hydrated (nothing read is changed through the ORM); the ORM
 * calls that remain go through the entity's `owner` filter, which refuses a query that does not name one.
 * Nothing outside this module touches the todos table.
 */
import type { EntityData } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { StoredValues } from '@todo/platform/db';
import { todoFields } from '@todo/platform/events';
import { ownedBy, type Todo, TodoSchema } from '../entities/todo.entity.ts';

export type SortOrder = '-createdAt' | 'createdAt' | 'dueAt' | '-dueAt';

export interface ListFilter {
  done?: boolean | undefined;
  /** Case-insensitive substring of title or description, taken literally. */
  q?: string | undefined;
  dueBefore?: Date | undefined;
  dueAfter?: Date | undefined;
}

/** Where the previous page ended: the sort key of its last item (as PostgreSQL prints it) and its id. */
export interface KeysetPosition {
  key: string;
  id: string;
}

export interface ListQuery extends ListFilter {
  sort: SortOrder;
  limit: number;
  after?: KeysetPosition | undefined;
}

/**
 * Each order is one index: (owner_id, <sort expression>, id). A todo without a due date sorts as +infinity
 * ascending and -infinity descending, so it comes last either way and comparisons need no NULL cases.
 */
const ORDERS: Record<SortOrder, { expression: string; direction: 'asc' | 'desc' }> = {
  createdAt: { expression: 't.created_at', direction: 'asc' },
  '-createdAt': { expression: 't.created_at', direction: 'desc' },
  dueAt: { expression: `coalesce(t.due_at, 'infinity'::timestamptz)`, direction: 'asc' },
  '-dueAt': { expression: `coalesce(t.due_at, '-infinity'::timestamptz)`, direction: 'desc' },
};

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** What a PATCH may change: any of the todo's own fields. */
export type TodoChanges = Partial<StoredValues<typeof todoFields>>;

export class TodoRepository {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  /** A row as the driver maps it for the query builder: column names to properties, timestamps to Dates. */
  #toTodo(row: EntityData<Todo>): Todo {
    return this.#em.getDriver().mapResult(row, this.#em.getMetadata(TodoSchema)) as Todo;
  }

  /** The todo as stored, or null. */
  async findOne(ownerId: string, id: string): Promise<Todo | null> {
    const row = await this.#em.execute<EntityData<Todo>>(
      'select * from todo.todos where owner_id = ? and id = ?',
      [ownerId, id],
      'get',
    );
    return row ? this.#toTodo(row) : null;
  }

  async exists(ownerId: string, id: string): Promise<boolean> {
    return (await this.#em.count(TodoSchema, { ownerId, id }, ownedBy(ownerId))) > 0;
  }

  /** One page in the requested order, each row with the sort key a cursor needs to continue after it. */
  async list(ownerId: string, query: ListQuery): Promise<{ todo: Todo; key: string }[]> {
    const { sql, params } = this.listQuery(ownerId, query);
    const rows = await this.#em.execute<EntityData<Todo>[]>(sql, params, 'all');
    return rows.map((row) => {
      const { sort_key, ...todo } = this.#toTodo(row) as Todo & { sort_key: string };
      return { todo, key: sort_key };
    });
  }

  /** The list query itself, unexecuted: `list` runs it, and the query-plan test explains it. */
  listQuery(ownerId: string, query: ListQuery): { sql: string; params: unknown[] } {
    const order = ORDERS[query.sort];
    const where = ['t.owner_id = ?'];
    const params: unknown[] = [ownerId];
    const and = (condition: string, ...values: unknown[]) => {
      where.push(condition);
      params.push(...values);
    };
    if (query.done !== undefined) and('t.done = ?', query.done);
    if (query.dueBefore) and('t.due_at < ?', query.dueBefore);
    if (query.dueAfter) and('t.due_at >= ?', query.dueAfter);
    if (query.q) {
      const pattern = `%${escapeLike(query.q)}%`;
      and('(t.title ilike ? or t.description ilike ?)', pattern, pattern);
    }
    if (query.after) {
      const comparison = order.direction === 'asc' ? '>' : '<';
      and(`(${order.expression}, t.id) ${comparison} (?::timestamptz, ?::uuid)`, query.after.key, query.after.id);
    }
    params.push(query.limit);
    const sql =
      `select t.*, (${order.expression})::text as sort_key from todo.todos t where ${where.join(' and ')} ` +
      `order by ${order.expression} ${order.direction}, t.id ${order.direction} limit ?`;
    return { sql, params };
  }

  /**
   * The INSERT of a new todo, unexecuted (RETURNING its id): the use case runs it together with its event
   * (`Outbox.withChange`), one statement for both.
   */
  insertStatement(ownerId: string, todo: Omit<Todo, 'ownerId'>): { sql: string; params: unknown[] } {
    const meta = this.#em.getMetadata(TodoSchema);
    const entries = Object.entries({ ...todo, ownerId });
    // Column names come from the entity (every key is a property of Todo), never from the request.
    const columns = entries.map(([name]) => meta.properties[name as keyof typeof meta.properties].fieldNames[0]);
    return {
      sql: `insert into todo.todos (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')}) returning id`,
      params: entries.map(([, value]) => value),
    };
  }

  /**
   * The UPDATE that applies the changes and advances the version by one, atomically (a concurrent writer waits
   * for the row lock and then sees the new version); with `ifVersions`, only when the current version is one
   * of them. Unexecuted: the use case runs it with its event. RETURNING the row as it now is (read it with
   * `changedTodo`) and, as `representation`, the todo as events carry it, made from that same row.
   */
  updateStatement(
    ownerId: string,
    id: string,
    changes: TodoChanges,
    now: Date,
    ifVersions?: number[],
  ): { sql: string; params: unknown[] } {
    const meta = this.#em.getMetadata(TodoSchema);
    const column = (name: string) => meta.properties[name as keyof typeof meta.properties].fieldNames[0];
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [name, value] of Object.entries(changes)) {
      // Column names come from the entity, never from the request; a key that is no todo field is a bug.
      if (!Object.hasOwn(todoFields, name)) throw new TypeError(`${name} is not a todo field`);
      sets.push(`${column(name)} = ?`);
      params.push(value);
    }
    sets.push('updated_at = ?', 'version = version + 1');
    params.push(now, ownerId, id);
    if (ifVersions) params.push(ifVersions);
    // The representation in SQL, member by member from the entity: date-times as JavaScript's toISOString
    // writes them (UTC, milliseconds, "Z"), so the event says exactly what the response does.
    const member = (name: string) => {
      const value = `t.${column(name)}`;
      const json =
        meta.properties[name as keyof typeof meta.properties].runtimeType === 'Date'
          ? `to_char(${value} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
          : value;
      return `'${name}', ${json}`;
    };
    const representation = ['id', ...Object.keys(todoFields), 'createdAt', 'updatedAt', 'version'].map(member);
    return {
      sql:
        `update todo.todos t set ${sets.join(', ')} where t.owner_id = ? and t.id = ?` +
        `${ifVersions ? ' and t.version in (?)' : ''} returning t.*, jsonb_build_object(${representation.join(', ')}) as representation`,
      params,
    };
  }

  /** A todo as an UPDATE's RETURNING gave it. */
  changedTodo({ representation: _, ...row }: EntityData<Todo> & { representation?: unknown }): Todo {
    return this.#toTodo(row);
  }

  /**
   * The DELETE of a todo (with `ifVersions`, only at one of them), unexecuted, RETURNING `deleted_version`:
   * the version its deletion gets, one above the last. The use case runs it with its event.
   */
  deleteStatement(ownerId: string, id: string, ifVersions?: number[]): { sql: string; params: unknown[] } {
    return {
      sql: `delete from todo.todos where owner_id = ? and id = ?${ifVersions ? ' and version in (?)' : ''} returning version + 1 as deleted_version`,
      params: ifVersions ? [ownerId, id, ifVersions] : [ownerId, id],
    };
  }

  /** Every todo of an owner, for an account deletion: the id and last version of each one that went. */
  deleteAllOf(ownerId: string): Promise<{ id: string; version: number }[]> {
    return this.#em.execute('delete from todo.todos where owner_id = ? returning id, version', [ownerId]);
  }
}
