import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSchemaMatchesSpec, cloneDatabase, type TestDatabase } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDocument } from 'yaml';

// Resolved from this file, not the working directory, so the test runs the same from any cwd.
const spec = fileURLToPath(new URL('../../../specs/database/todo.yaml', import.meta.url));

describe('the todo database schema', () => {
  let db: TestDatabase;
  let scratch: string;
  beforeAll(async () => {
    db = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
    scratch = await mkdtemp(join(tmpdir(), 'todo-database-spec-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('the migrated todo schema is exactly what specs/database/todo.yaml describes', async () => {
    await assertSchemaMatchesSpec(db.url, spec);
  });

  // The other direction from the auth test: the database is right and the spec is stale, as after a
  // migration whose author forgot the spec. Edited through the YAML document so a reworded spec still works.
  it('a spec that no longer matches the migrated schema fails the check, naming each difference', async () => {
    const doc = parseDocument(await readFile(spec, 'utf8'));
    const edits: [path: string[], value?: string][] = [
      [['tables', 'todos', 'columns', 'done', 'type'], 'smallint'],
      [['tables', 'todos', 'columns', 'due_at']],
      [['tables', 'todos', 'constraints', 'todos_version_positive']],
      [
        ['tables', 'todos', 'indexes', 'todos_owner_created_idx', 'definition'],
        'CREATE INDEX todos_owner_created_idx ON todo.todos USING btree (owner_id)',
      ],
    ];
    for (const [path, value] of edits) {
      expect(doc.hasIn(path), `${path.join('.')} is in the spec`).toBe(true);
      if (value === undefined) doc.deleteIn(path);
      else doc.setIn(path, value);
    }
    const stale = join(scratch, 'todo.yaml');
    await writeFile(stale, doc.toString());

    const failure = assertSchemaMatchesSpec(db.url, stale);
    await expect(failure).rejects.toThrow('todo.todos.done: type differs: spec smallint, database boolean');
    await expect(failure).rejects.toThrow(
      'todo.todos: unexpected column due_at (database: timestamp with time zone NULL',
    );
    await expect(failure).rejects.toThrow('todo.todos: unexpected constraint todos_version_positive');
    await expect(failure).rejects.toThrow('todo.todos: index todos_owner_created_idx differs');
  });
});
