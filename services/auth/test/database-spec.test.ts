import { fileURLToPath } from 'node:url';
import { assertSchemaMatchesSpec, cloneDatabase, type TestDatabase } from '@todo/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// Resolved from this file, not the working directory, so the test runs the same from any cwd.
const spec = fileURLToPath(new URL('../../../specs/database/auth.yaml', import.meta.url));

async function execute(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('the auth database schema', () => {
  let migrated: TestDatabase;
  let drifted: TestDatabase;
  beforeAll(async () => {
    migrated = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
    drifted = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  });
  afterAll(async () => {
    await migrated?.drop();
    await drifted?.drop();
  });

  it('the migrated auth schema is exactly what specs/database/auth.yaml describes', async () => {
    await assertSchemaMatchesSpec(migrated.url, spec);
  });

  // A migration that changed the schema without updating the spec, played on a second clone.
  it('a schema change the spec does not describe fails the check, naming each difference', async () => {
    await execute(
      drifted.url,
      `alter table auth.users add column nickname text;
       alter table auth.sessions alter column counter type bigint;
       drop index auth.sessions_user_id_idx`,
    );
    const failure = assertSchemaMatchesSpec(drifted.url, spec);
    await expect(failure).rejects.toThrow('auth.users: unexpected column nickname (database: text NULL, default none)');
    await expect(failure).rejects.toThrow('auth.sessions.counter: type differs: spec integer, database bigint');
    await expect(failure).rejects.toThrow('auth.sessions: missing index sessions_user_id_idx');
  });
});
