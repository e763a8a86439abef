/**
 * At 100,000 todos for one user, every list shape is an index range scan of that user's rows: no
 * sequential scan, no sort. The plans are PostgreSQL's own EXPLAIN of the exact SQL the repository runs.
 */
import type { MikroORM } from '@todo/platform/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListQuery, TodoRepository } from '../src/repositories/todo.repository.ts';
import { openTodoDatabase } from './support/stack.ts';

const OWNER = '01a2168a-0000-7000-8000-000000000001';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describe('list queries stay index range scans at 100,000 todos per user', () => {
  let db: Awaited<ReturnType<typeof openTodoDatabase>>;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await openTodoDatabase();
    orm = db.orm;
    // 100,000 todos of one user (a third without a due date) among 50,000 of others.
    await orm.em.execute(`
      insert into todo.todos (id, owner_id, title, description, done, due_at, created_at, updated_at, version)
      select gen_random_uuid(),
             case when i <= 100000 then '${OWNER}'::uuid else gen_random_uuid() end,
             'todo ' || i, null, i % 4 = 0,
             case when i % 3 = 0 then null else now() + make_interval(hours => i % 5000) end,
             now() - make_interval(secs => i), now(), 1
      from generate_series(1, 150000) as i`);
    await orm.em.execute('analyze todo.todos');
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  async function plan(query: ListQuery): Promise<PlanNode> {
    const { sql, params } = new TodoRepository(orm.em.fork()).listQuery(OWNER, query);
    const [row] = await orm.em.execute<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(
      `explain (format json) ${sql}`,
      params,
    );
    const explained = row?.['QUERY PLAN'][0]?.Plan;
    if (!explained) throw new Error('no plan');
    return explained;
  }

  async function lastKeyOf(query: ListQuery): Promise<{ key: string; id: string }> {
    const rows = await new TodoRepository(orm.em.fork()).list(OWNER, query);
    const last = rows.at(-1);
    if (!last) throw new Error('no rows');
    return { key: last.key, id: last.todo.id };
  }

  const cases: [string, ListQuery['sort'], string, string][] = [
    ['the default list (newest first)', '-createdAt', 'todos_owner_created_idx', 'Backward'],
    ['oldest first', 'createdAt', 'todos_owner_created_idx', 'Forward'],
    ['earliest due first', 'dueAt', 'todos_owner_due_asc_idx', 'Forward'],
    ['latest due first', '-dueAt', 'todos_owner_due_desc_idx', 'Backward'],
  ];

  for (const [name, sort, index, direction] of cases) {
    it(`${name}: first page and a page after a cursor scan ${index} ${direction.toLowerCase()}`, async () => {
      const first = await plan({ sort, limit: 21 });
      const after = await plan({ sort, limit: 21, after: await lastKeyOf({ sort, limit: 5000 }) });
      for (const explained of [first, after]) {
        const all = nodes(explained);
        const scan = all.find((n) => n['Index Name'] === index);
        expect(scan, JSON.stringify(explained)).toBeDefined();
        expect(scan?.['Scan Direction']).toBe(direction);
        expect(all.map((n) => n['Node Type'])).not.toContain('Seq Scan');
        expect(all.map((n) => n['Node Type'])).not.toContain('Sort');
      }
    });
  }
});
