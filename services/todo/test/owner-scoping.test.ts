/**
 * An unscoped query on todos cannot be written by accident: the ORM refuses one that does not name its
 * owner, and no module but the repository touches the todos table at all.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@todo/platform/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedBy, TodoSchema } from '../src/entities/todo.entity.ts';
import { TodoRepository } from '../src/repositories/todo.repository.ts';
import { openTodoDatabase } from './support/stack.ts';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );

describe('every todo query names its owner', () => {
  let db: Awaited<ReturnType<typeof openTodoDatabase>>;
  let orm: MikroORM;
  beforeAll(async () => {
    db = await openTodoDatabase();
    orm = db.orm;
  });
  afterAll(async () => {
    await db?.close();
  });

  it('the ORM refuses a find, count, update or delete on todos without an owner', async () => {
    const em = orm.em.fork();
    await expect(em.find(TodoSchema, {})).rejects.toThrow(/owner|filter/);
    await expect(em.findOne(TodoSchema, { id: '01a2168a-47ce-7125-9122-75972c68c612' })).rejects.toThrow(
      /owner|filter/,
    );
    await expect(em.count(TodoSchema, {})).rejects.toThrow(/owner|filter/);
    await expect(em.nativeUpdate(TodoSchema, {}, { done: true })).rejects.toThrow(/owner|filter/);
    await expect(em.nativeDelete(TodoSchema, {})).rejects.toThrow(/owner|filter/);
  });

  /** A todo row of `ownerId`, written straight through the ORM; returns its id. */
  async function insertTodo(ownerId: string, title: string): Promise<string> {
    const now = new Date();
    const id = crypto.randomUUID();
    await orm.em.fork().insert(TodoSchema, {
      id,
      ownerId,
      title,
      description: null,
      done: false,
      dueAt: null,
      createdAt: now,
      updatedAt: now,
      version: 1,
    });
    return id;
  }

  it('with the owner named, the filter scopes the query even when the where clause forgets to', async () => {
    const em = orm.em.fork();
    const owner = '01a2168a-0000-7000-8000-00000000000a';
    const stranger = '01a2168a-0000-7000-8000-00000000000b';
    for (const ownerId of [owner, stranger]) await insertTodo(ownerId, 't');
    const found = await em.find(TodoSchema, {}, ownedBy(owner));
    expect(found.map((t) => t.ownerId)).toEqual([owner]);
    expect(await em.nativeDelete(TodoSchema, {}, ownedBy(owner))).toBe(1);
    expect(await em.count(TodoSchema, {}, ownedBy(stranger))).toBe(1);
  });

  it('query-builder and raw-SQL queries bypass the filter, so the repository names the owner in each of them', async () => {
    const em = orm.em.fork();
    const owner = '01a2168a-0000-7000-8000-00000000001a';
    const stranger = '01a2168a-0000-7000-8000-00000000001b';
    const ids = { [owner]: await insertTodo(owner, 'listed'), [stranger]: await insertTodo(stranger, 'listed') };
    // The filter does not protect a query builder: without the repository's WHERE it would see everyone's rows.
    const unscoped = await em.createQueryBuilder(TodoSchema).select('*').where({ title: 'listed' }).execute('all');
    expect(new Set(unscoped.map((row) => row.ownerId))).toEqual(new Set([owner, stranger]));

    const repo = new TodoRepository(em);
    const page = await repo.list(owner, { sort: '-createdAt', limit: 100 });
    expect(page.map((row) => row.todo.ownerId)).toEqual([owner]);
    const { sql, params } = repo.deleteStatement(owner, ids[stranger] as string);
    expect(await em.execute(sql, params)).toEqual([]);
    const insert = repo.insertStatement(owner, {
      id: '01a2168a-0000-7000-8000-00000000001c',
      title: 'mine',
      description: null,
      done: false,
      dueAt: null,
      createdAt: new Date(),
      updatedAt: new Date(),
      version: 1,
    });
    expect(await em.execute(insert.sql, insert.params)).toEqual([{ id: '01a2168a-0000-7000-8000-00000000001c' }]);
    expect(new Set((await repo.deleteAllOf(owner)).map((row) => row.id))).toEqual(
      new Set([ids[owner], '01a2168a-0000-7000-8000-00000000001c']),
    );
    expect(await em.count(TodoSchema, {}, ownedBy(stranger))).toBeGreaterThanOrEqual(1);
  });

  it('no module but the repository touches the todos table', () => {
    const offenders = sourceFiles(SRC)
      .filter((file) => !/repositories[\\/]todo\.repository\.ts$|entities[\\/]|migrations[\\/]/.test(file))
      .filter((file) => /\bTodoSchema\b|todo\.todos\b/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file));
    expect(offenders).toEqual([]);
  });
});
