import { fileURLToPath } from 'node:url';
import {
  cloneDatabase,
  entityMismatches,
  expectSchemaToMatchSpec,
  ormOn,
  query,
  type TestDatabase,
} from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { authService } from '../src/definition.ts';

// Resolved from this file, not the working directory, so the test runs the same from any cwd.
const spec = fileURLToPath(new URL('../../../specs/database/auth.yaml', import.meta.url));

/** MikroORM's schema diff between the auth entities and the database at `url`. */
async function entityMismatchesIn(url: string): Promise<string[]> {
  const orm = await ormOn(authService, url);
  try {
    return await entityMismatches(orm);
  } finally {
    await orm.close();
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
    await expectSchemaToMatchSpec(migrated.url, spec);
  });

  it('the entities map the migrated columns as they are', async () => {
    expect(await entityMismatchesIn(migrated.url)).toEqual([]);
  });

  // A migration that changed the schema without updating the spec or the entities, played on a second clone.
  describe('after a schema change the spec and the entities do not know of', () => {
    beforeAll(async () => {
      await query(
        drifted.url,
        `alter table auth.users add column nickname text;
         alter table auth.sessions alter column counter type bigint;
         alter table auth.credentials rename column password_hash to hash;
         drop index auth.sessions_user_id_idx`,
      );
    });

    it('the spec check fails, and its diff is exactly the change', async () => {
      const failure = await expectSchemaToMatchSpec(drifted.url, spec).then(
        () => expect.unreachable('the check passed'),
        (err: unknown) => err as Record<'actual' | 'expected', { tables: Record<string, Table> }>,
      );
      // The spec's shape with exactly the drift applied is the database's: nothing else differs.
      const { actual, expected } = failure;
      const { users, sessions, credentials } = expected.tables;
      users?.columns.push(['nickname', { type: 'text', nullable: true, default: null }]);
      sessions?.columns.forEach(([name, column]) => {
        if (name === 'counter') column.type = 'bigint';
      });
      credentials?.columns.forEach((entry) => {
        if (entry[0] === 'password_hash') entry[0] = 'hash';
      });
      delete sessions?.indexes.sessions_user_id_idx;
      expect(actual).toEqual(expected);
    });

    it('the entity check names the columns the entities map differently', async () => {
      expect(await entityMismatchesIn(drifted.url)).toEqual([
        'alter table "auth"."credentials" rename column "hash" to "password_hash";',
        'alter table "auth"."sessions" alter column "counter" type int using ("counter"::int);',
      ]);
    });
  });
});

interface Table {
  columns: [string, { type: string; nullable: boolean; default: string | null }][];
  indexes: Record<string, unknown>;
}
