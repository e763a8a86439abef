/**
 * What the scenarios work on: users registered and logged in through the auth API (real accounts, real
 * argon2id hashes, real tokens), and their todos written straight into the todo schema (the layout of
 * specs/database/todo.yaml) so that seeding thousands of rows takes a second, not a minute of API calls.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';

export interface BenchUser {
  id: string;
  email: string;
  password: string;
  /** An access token of the auth service: the todo scenarios send it, to the service and to the floor. */
  accessToken: string;
  /** The seeded todos, newest first. */
  todoIds: string[];
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  user: { id: string };
}

async function postJson<T>(url: string, body: unknown, expected: number): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`POST ${url} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

export const logIn = (authUrl: string, user: Pick<BenchUser, 'email' | 'password'>) =>
  postJson<TokenResponse>(`${authUrl}/auth/login`, { email: user.email, password: user.password }, 200);

/** Runs `fn` over `items`, at most `limit` at a time (argon2 calls saturate the auth service beyond a few). */
export async function inBatches<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Registers and logs in `count` users, named after the run so that runs against one stack never collide. */
export function seedUsers(authUrl: string, count: number): Promise<BenchUser[]> {
  const run = Date.now().toString(36);
  return inBatches(Array.from({ length: count }), 4, async (_, i) => {
    const email = `bench-${run}-${i}@example.com`;
    const password = `bench ${randomBytes(12).toString('base64url')} passphrase`;
    await postJson(`${authUrl}/auth/register`, { email, password, name: `Bench user ${i}` }, 201);
    const tokens = await logIn(authUrl, { email, password });
    return { id: tokens.user.id, email, password, accessToken: tokens.access_token, todoIds: [] };
  });
}

/**
 * Inserts `count` todos for `owner`, a mix of done, dated and described ones, one minute apart (newest
 * first), and returns their ids newest first.
 */
export async function insertTodos(db: pg.Pool, owner: string, count: number, title = 'Seeded todo'): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `insert into todo.todos (id, owner_id, title, description, done, due_at, created_at, updated_at, version)
     select gen_random_uuid(), $1::uuid, $3 || ' ' || i,
            case when i % 3 = 0 then 'Some details about todo ' || i end,
            i % 4 = 0,
            case when i % 2 = 0 then now() + i * interval '1 hour' end,
            now() - i * interval '1 minute', now() - i * interval '1 minute', 1
       from generate_series(1, $2::int) as i
     order by i
     returning id`,
    [owner, count, title],
  );
  return rows.map((r) => r.id);
}

export async function seedTodos(db: pg.Pool, users: BenchUser[], perUser: number): Promise<void> {
  for (const user of users) user.todoIds = await insertTodos(db, user.id, perUser);
  await db.query('analyze todo.todos');
}

export async function deleteTodos(db: pg.Pool, ids: string[]): Promise<void> {
  if (ids.length > 0) await db.query('delete from todo.todos where id = any($1::uuid[])', [ids]);
}
