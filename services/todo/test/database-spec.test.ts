import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entityMismatches, expectSchemaToMatchSpec, query } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Document, parseDocument } from 'yaml';
import { openTodoDatabase } from './support/stack.ts';

// Resolved from this file, not the working directory, so the test runs the same from any cwd.
const spec = fileURLToPath(new URL('../../../specs/database/todo.yaml', import.meta.url));

describe('the todo database schema', () => {
  let db: Awaited<ReturnType<typeof openTodoDatabase>>;
  let scratch: string;
  beforeAll(async () => {
    db = await openTodoDatabase();
    scratch = await mkdtemp(join(tmpdir(), 'todo-database-spec-'));
  });
  afterAll(async () => {
    await db?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('the migrated todo schema is exactly what specs/database/todo.yaml describes', async () => {
    await expectSchemaToMatchSpec(db.database.url, spec);
  });

  it('the entities map the migrated columns as they are', async () => {
    expect(await entityMismatches(db.orm)).toEqual([]);
  });

  // The other direction from the auth test: the database is right and the spec is stale or mistyped, as after
  // a migration whose author forgot the spec. Edited through the YAML document so a reworded spec still works.
  const todos = ['tables', 'todos'];
  it.each<[string, (doc: Document) => void]>([
    ['a column whose type changed', (doc) => doc.setIn([...todos, 'columns', 'done', 'type'], 'smallint')],
    ['a column it does not list', (doc) => doc.deleteIn([...todos, 'columns', 'due_at'])],
    ['a constraint it does not list', (doc) => doc.deleteIn([...todos, 'constraints', 'todos_version_positive'])],
    ['an index that changed', (doc) => doc.setIn([...todos, 'indexes', 'todos_pkey', 'definition'], 'CREATE INDEX')],
    ['a misspelt key', (doc) => doc.setIn([...todos, 'columns', 'done', 'nulable'], false)],
    ['a default YAML reads as a boolean', (doc) => doc.setIn([...todos, 'columns', 'done', 'default'], false)],
    ['a column without a description', (doc) => doc.deleteIn([...todos, 'columns', 'title', 'description'])],
    ['a table without its indexes', (doc) => doc.deleteIn([...todos, 'indexes'])],
    ['a tool-owned table that lists columns', (doc) => doc.setIn(['tables', 'mikro_orm_migrations', 'columns'], {})],
  ])('a spec with %s fails the check', async (_, edit) => {
    const doc = parseDocument(await readFile(spec, 'utf8'));
    const before = doc.toString();
    edit(doc);
    expect(doc.toString(), 'the edit changed the spec').not.toBe(before);
    const stale = join(scratch, 'todo.yaml');
    await writeFile(stale, doc.toString());
    await expect(expectSchemaToMatchSpec(db.database.url, stale)).rejects.toThrow(/to deeply equal/);
  });

  it('a column an entity maps that the migrations renamed fails the entity check', async () => {
    await query(db.database.url, 'alter table todo.todos rename column title to heading');
    try {
      expect(await entityMismatches(db.orm)).toContain(
        'alter table "todo"."todos" rename column "heading" to "title";',
      );
    } finally {
      await query(db.database.url, 'alter table todo.todos rename column heading to title');
    }
  });
});
