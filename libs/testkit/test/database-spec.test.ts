import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { diffSchemas, parseSpec, type SchemaShape, type TableShape } from '../src/database-spec.ts';

// A small schema in the canonical shape, as both the spec and the database reader produce it.
const users = (): TableShape => ({
  columns: {
    id: { type: 'uuid', nullable: false, default: null },
    email: { type: 'text', nullable: false, default: null },
    visits: { type: 'integer', nullable: false, default: '0' },
  },
  constraints: {
    users_pkey: 'PRIMARY KEY (id)',
    users_visits_non_negative: 'CHECK ((visits >= 0))',
  },
  indexes: { users_pkey: 'CREATE UNIQUE INDEX users_pkey ON app.users USING btree (id)' },
});
const schema = (tables: Record<string, TableShape> = { users: users() }): SchemaShape => ({ schema: 'app', tables });

describe('comparing a schema with its spec', () => {
  it('a database that is exactly what the spec describes has no differences', () => {
    expect(diffSchemas(schema(), schema())).toEqual([]);
  });

  it('a column whose type changed is reported with both types', () => {
    const actual = schema();
    actual.tables.users = {
      ...users(),
      columns: { ...users().columns, visits: { type: 'bigint', nullable: false, default: '0' } },
    };
    expect(diffSchemas(schema(), actual)).toEqual(['app.users.visits: type differs: spec integer, database bigint']);
  });

  it('a column the spec describes but the database lacks is reported as missing', () => {
    const { email: _, ...withoutEmail } = users().columns;
    const actual = schema({ users: { ...users(), columns: withoutEmail } });
    expect(diffSchemas(schema(), actual)).toEqual([
      'app.users: missing column email (spec: text NOT NULL, default none)',
    ]);
  });

  it('an index the migrations added without updating the spec is reported as unexpected', () => {
    const actual = schema();
    actual.tables.users = {
      ...users(),
      indexes: { ...users().indexes, users_email_idx: 'CREATE INDEX users_email_idx ON app.users USING btree (email)' },
    };
    expect(diffSchemas(schema(), actual)).toEqual([
      'app.users: unexpected index users_email_idx (database: "CREATE INDEX users_email_idx ON app.users USING btree (email)")',
    ]);
  });

  it('a constraint whose definition changed is reported with both definitions', () => {
    const actual = schema();
    actual.tables.users = {
      ...users(),
      constraints: { ...users().constraints, users_visits_non_negative: 'CHECK ((visits > 0))' },
    };
    expect(diffSchemas(schema(), actual)).toEqual([
      'app.users: constraint users_visits_non_negative differs: spec "CHECK ((visits >= 0))", database "CHECK ((visits > 0))"',
    ]);
  });

  it('every difference is reported at once, in both directions, down to nullability, defaults and column order', () => {
    const spec = schema({ users: users(), sessions: { columns: {}, constraints: {}, indexes: {} } });
    const actual = schema({
      users: {
        columns: {
          id: { type: 'uuid', nullable: false, default: null },
          visits: { type: 'integer', nullable: true, default: null },
          email: { type: 'text', nullable: false, default: null },
          nickname: { type: 'text', nullable: true, default: null },
        },
        constraints: { users_pkey: 'PRIMARY KEY (id)' },
        indexes: users().indexes,
      },
      audit: {
        columns: { at: { type: 'timestamp with time zone', nullable: false, default: 'now()' } },
        constraints: {},
        indexes: {},
      },
    });
    expect(diffSchemas(spec, actual)).toEqual([
      'app.users.visits: nullability differs: spec NOT NULL, database NULL',
      'app.users.visits: default differs: spec "0", database none',
      'app.users: unexpected column nickname (database: text NULL, default none)',
      'app.users: column order differs: spec id, email, visits; database id, visits, email',
      'app.users: missing constraint users_visits_non_negative (spec: "CHECK ((visits >= 0))")',
      'missing table app.sessions (described by the spec, absent from the database)',
      'unexpected table app.audit (in the database, not described by the spec): at',
    ]);
  });

  it("a table whose shape a tool owns is only required to exist: its columns are the tool's business", () => {
    const journal: TableShape = { managedBy: 'MikroORM', columns: {}, constraints: {}, indexes: {} };
    const actual = schema({
      users: users(),
      mikro_orm_migrations: {
        columns: {
          id: { type: 'integer', nullable: false, default: "nextval('app.mikro_orm_migrations_id_seq'::regclass)" },
        },
        constraints: { mikro_orm_migrations_pkey: 'PRIMARY KEY (id)' },
        indexes: {},
      },
    });
    expect(diffSchemas(schema({ users: users(), mikro_orm_migrations: journal }), actual)).toEqual([]);
    expect(diffSchemas(schema({ users: users(), mikro_orm_migrations: journal }), schema())).toEqual([
      'missing table app.mikro_orm_migrations (described by the spec, absent from the database)',
    ]);
  });
});

describe('reading a spec file', () => {
  const spec = `
schema: app
service: services/app
description: An example.
tables:
  users:
    description: Accounts.
    columns:
      id: { type: uuid, nullable: false, default: null, description: The id. }
      visits: { type: integer, nullable: false, default: '0', description: Visits. }
    constraints:
      users_pkey: { definition: PRIMARY KEY (id) }
    indexes:
      users_pkey: { definition: CREATE UNIQUE INDEX users_pkey ON app.users USING btree (id), description: Behind the key. }
  mikro_orm_migrations:
    description: The journal.
    managedBy: MikroORM
`;

  it('turns the YAML into the canonical shape, keeping column order and dropping the descriptions', () => {
    expect(parseSpec(spec)).toEqual({
      schema: 'app',
      tables: {
        users: {
          columns: {
            id: { type: 'uuid', nullable: false, default: null },
            visits: { type: 'integer', nullable: false, default: '0' },
          },
          constraints: { users_pkey: 'PRIMARY KEY (id)' },
          indexes: { users_pkey: 'CREATE UNIQUE INDEX users_pkey ON app.users USING btree (id)' },
        },
        mikro_orm_migrations: { managedBy: 'MikroORM', columns: {}, constraints: {}, indexes: {} },
      },
    });
  });

  it('refuses a misspelt key, an unquoted default and a missing description, naming each place', () => {
    const broken = spec
      .replace(
        'nullable: false, default: null, description: The id.',
        'nulable: false, default: null, description: The id.',
      )
      .replace("default: '0', description: Visits.", 'default: 0')
      .replace('description: Accounts.', '');
    expect(() => parseSpec(broken, 'app.yaml')).toThrowError(
      [
        'Invalid database spec app.yaml:',
        "  - /tables/users: must have required property 'description'",
        "  - /tables/users/columns/id: must have required property 'nullable'",
        '  - /tables/users/columns/id: unknown key "nulable"',
        "  - /tables/users/columns/visits: must have required property 'description'",
        "  - /tables/users/columns/visits/default: must be a quoted string (the SQL expression as pg_get_expr prints it, e.g. '0' or 'false') or null",
      ].join('\n'),
    );
  });

  it('refuses a tool-owned table that lists columns, and an ordinary table without its indexes', () => {
    const broken = spec
      .replace('    managedBy: MikroORM', '    managedBy: MikroORM\n    columns: {}')
      .replace(/ {4}indexes:\n.*\n/, '');
    expect(() => parseSpec(broken)).toThrowError(
      [
        'Invalid database spec (inline):',
        '  - /tables/users: needs columns, constraints and indexes (write {} for none)',
        '  - /tables/mikro_orm_migrations: a table with managedBy lists no columns, constraints or indexes',
      ].join('\n'),
    );
  });

  it.each(['auth', 'todo'])(
    'the committed specs/database/%s.yaml is a valid spec of the schema it is named after',
    async (name) => {
      const text = await readFile(new URL(`../../../specs/database/${name}.yaml`, import.meta.url), 'utf8');
      expect(parseSpec(text, `${name}.yaml`).schema).toBe(name);
    },
  );
});
