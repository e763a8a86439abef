/**
 * Property: paging through a list while other requests insert and delete never repeats an item, never
 * skips one that existed before the first page (and was not deleted), and always keeps the order.
 */
import { bearer, dataOf, type TestUser, type Todo, type TodoListQuery } from '@todo/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

type Sort = '-createdAt' | 'createdAt' | 'dueAt' | '-dueAt';

interface Filter {
  done?: boolean;
  q?: string;
  dueBefore?: string;
  dueAfter?: string;
}

const WORDS = ['alpha', 'beta', '50%', 'snake_case', 'Gamma', 'delta'];
const DATES = [
  '2027-01-01T00:00:00.000Z',
  '2027-01-02T00:00:00.000Z',
  '2027-01-03T00:00:00.000Z',
  '2027-01-04T00:00:00.000Z',
];

const newTodo = fc.record({
  title: fc.constantFrom(...WORDS).map((w) => `todo ${w}`),
  done: fc.boolean(),
  dueAt: fc.option(fc.constantFrom(...DATES), { nil: null }),
});

/** Mostly no filter or a single one, so that most runs page through several pages. */
const filter: fc.Arbitrary<Filter> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.boolean().map((done) => ({ done })) },
  { weight: 1, arbitrary: fc.constantFrom('alpha', '%', '_', 'GAMMA', 'e').map((q) => ({ q })) },
  { weight: 1, arbitrary: fc.constantFrom(...DATES).map((dueBefore) => ({ dueBefore })) },
  { weight: 1, arbitrary: fc.constantFrom(...DATES).map((dueAfter) => ({ dueAfter })) },
);

/** Between two page requests: insert some todos, delete some existing ones. */
const interference = fc.array(
  fc.oneof(
    newTodo.map((body) => ({ kind: 'insert' as const, body })),
    fc.nat().map((pick) => ({ kind: 'delete' as const, pick })),
  ),
  { maxLength: 3 },
);

function matches(todo: Todo, f: Filter): boolean {
  if (f.done !== undefined && todo.done !== f.done) return false;
  if (f.q !== undefined) {
    const needle = f.q.toLowerCase();
    if (!todo.title.toLowerCase().includes(needle) && !(todo.description ?? '').toLowerCase().includes(needle))
      return false;
  }
  if (f.dueBefore !== undefined && !(todo.dueAt !== null && todo.dueAt < f.dueBefore)) return false;
  if (f.dueAfter !== undefined && !(todo.dueAt !== null && todo.dueAt >= f.dueAfter)) return false;
  return true;
}

/** The order the API promises, as a comparator (ids break ties in the same direction). */
function compare(sort: Sort): (a: Todo, b: Todo) => number {
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return (a, b) => {
    let primary: number;
    if (sort === 'createdAt' || sort === '-createdAt') primary = cmp(a.createdAt, b.createdAt);
    else {
      const inf = sort === 'dueAt' ? '\uffff' : '';
      primary = cmp(a.dueAt ?? inf, b.dueAt ?? inf);
    }
    const result = primary !== 0 ? primary : cmp(a.id, b.id);
    return sort.startsWith('-') ? -result : result;
  };
}

describe('keyset pagination under concurrent inserts and deletes (property-based)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it('never repeats, never skips, always keeps the order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(newTodo, { minLength: 0, maxLength: 16 }),
        fc.constantFrom<Sort>('-createdAt', 'createdAt', 'dueAt', '-dueAt'),
        filter,
        fc.integer({ min: 1, max: 4 }),
        fc.array(interference, { minLength: 6, maxLength: 6 }),
        async (seed, sort, f, limit, interferences) => {
          const user: TestUser = await stack.auth.newUser();
          const asUser = { headers: bearer(user.accessToken) };
          const existing: Todo[] = [];
          for (const body of seed) {
            const res = await stack.client.POST('/todos', { body, ...asUser });
            existing.push(dataOf(res));
          }
          const deleted = new Set<string>();
          const pages: Todo[] = [];
          let cursor: string | null = null;
          // Interference stops after six pages, so that a slow reader always reaches the end of a growing list.
          for (let page = 0; page < 200; page++) {
            const query: TodoListQuery = { sort, limit, ...f, ...(cursor ? { cursor } : {}) };
            const res = await stack.client.GET('/todos', { params: { query }, ...asUser });
            expect(res.response.status).toBe(200);
            const { items, nextCursor } = dataOf(res);
            expect(items.length).toBeLessThanOrEqual(limit);
            pages.push(...items);
            cursor = nextCursor;
            if (!cursor) break;
            for (const change of interferences[page] ?? []) {
              if (change.kind === 'insert') {
                await stack.client.POST('/todos', { body: change.body, ...asUser });
              } else if (existing.length > 0) {
                const victim = existing[change.pick % existing.length] as Todo;
                const gone = await stack.client.DELETE('/todos/{id}', {
                  params: { path: { id: victim.id } },
                  ...asUser,
                });
                if (gone.response.status === 204) deleted.add(victim.id);
              }
            }
          }
          expect(cursor).toBeNull();
          const ids = pages.map((t) => t.id);
          expect(new Set(ids).size).toBe(ids.length);
          for (const todo of pages) expect(matches(todo, f)).toBe(true);
          expect([...pages].sort(compare(sort)).map((t) => t.id)).toEqual(ids);
          const mustAppear = existing.filter((t) => !deleted.has(t.id) && matches(t, f)).map((t) => t.id);
          for (const id of mustAppear) expect(ids).toContain(id);
        },
      ),
      { numRuns: 25 },
    );
  });
});
