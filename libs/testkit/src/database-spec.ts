/**
 * Holds a migrated database to specs/database/<service>.yaml. Both sides are reduced to one canonical
 * shape (a schema's tables, their columns, constraints and indexes, each as PostgreSQL itself prints it)
 * and compared by a pure function, so the comparison is unit-tested without a database and the I/O stays
 * a thin shell: read the YAML, read pg_catalog, diff, throw with every difference at once.
 */
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import pg from 'pg';
import { parse } from 'yaml';

export interface ColumnShape {
  /** As `format_type(atttypid, atttypmod)` prints it: `timestamp with time zone`, `character varying(255)`. */
  type: string;
  nullable: boolean;
  /**
   * What fills the column when an insert leaves it out: `pg_get_expr` of the default, or for identity and
   * generated columns their DDL phrase (`GENERATED ALWAYS AS IDENTITY`, `GENERATED ALWAYS AS (…) STORED`),
   * which PostgreSQL does not report as a default. Null when nothing does.
   */
  default: string | null;
}

export interface TableShape {
  /**
   * Set when a tool, not our migrations, owns the table's shape (MikroORM's migration journal): only the
   * table's existence is compared, because its columns change with library upgrades, not with our migrations.
   */
  managedBy?: string;
  /** In table order (attnum); the order is compared too. */
  columns: Record<string, ColumnShape>;
  /** Name → `pg_get_constraintdef`. */
  constraints: Record<string, string>;
  /** Name → `pg_get_indexdef`, including the indexes behind primary keys and unique constraints. */
  indexes: Record<string, string>;
}

export interface SchemaShape {
  /** The PostgreSQL schema, e.g. `auth`. */
  schema: string;
  tables: Record<string, TableShape>;
}

// ---------------------------------------------------------------------------------------------------------
// The comparison.

const show = (value: string | null): string => (value === null ? 'none' : JSON.stringify(value));
const nullability = (nullable: boolean): string => (nullable ? 'NULL' : 'NOT NULL');
const summary = (c: ColumnShape): string => `${c.type} ${nullability(c.nullable)}, default ${show(c.default)}`;
const has = (record: object, key: string): boolean => Object.hasOwn(record, key);
// Own keys only: a table or column named `constructor` must not find Object.prototype's.
const lookup = <T>(record: Record<string, T>, key: string): T | undefined =>
  has(record, key) ? record[key] : undefined;

/** Missing, unexpected and changed entries of two name → definition maps (constraints, indexes). */
function diffDefinitions(
  where: string,
  kind: string,
  expected: Record<string, string>,
  actual: Record<string, string>,
): string[] {
  const out: string[] = [];
  for (const [name, definition] of Object.entries(expected)) {
    const found = lookup(actual, name);
    if (found === undefined) {
      out.push(`${where}: missing ${kind} ${name} (spec: ${show(definition)})`);
    } else if (found !== definition) {
      out.push(`${where}: ${kind} ${name} differs: spec ${show(definition)}, database ${show(found)}`);
    }
  }
  for (const [name, definition] of Object.entries(actual)) {
    if (!has(expected, name)) out.push(`${where}: unexpected ${kind} ${name} (database: ${show(definition)})`);
  }
  return out;
}

function diffColumns(where: string, expected: TableShape['columns'], actual: TableShape['columns']): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(expected)) {
    const found = lookup(actual, name);
    if (found === undefined) {
      out.push(`${where}: missing column ${name} (spec: ${summary(spec)})`);
      continue;
    }
    if (found.type !== spec.type) out.push(`${where}.${name}: type differs: spec ${spec.type}, database ${found.type}`);
    if (found.nullable !== spec.nullable) {
      out.push(
        `${where}.${name}: nullability differs: spec ${nullability(spec.nullable)}, database ${nullability(found.nullable)}`,
      );
    }
    if (found.default !== spec.default) {
      out.push(`${where}.${name}: default differs: spec ${show(spec.default)}, database ${show(found.default)}`);
    }
  }
  for (const [name, found] of Object.entries(actual)) {
    if (!has(expected, name)) out.push(`${where}: unexpected column ${name} (database: ${summary(found)})`);
  }
  // Only the columns both sides have: a missing or extra column is already reported above.
  const specOrder = Object.keys(expected).filter((name) => has(actual, name));
  const dbOrder = Object.keys(actual).filter((name) => has(expected, name));
  if (specOrder.join() !== dbOrder.join()) {
    out.push(`${where}: column order differs: spec ${specOrder.join(', ')}; database ${dbOrder.join(', ')}`);
  }
  return out;
}

/**
 * Every difference between the schema the spec describes and the one the database has, in both directions,
 * one readable line each. Empty when they match.
 */
export function diffSchemas(expected: SchemaShape, actual: SchemaShape): string[] {
  const out: string[] = [];
  if (expected.schema !== actual.schema) {
    out.push(`schema name differs: spec ${expected.schema}, database ${actual.schema}`);
  }
  const prefix = expected.schema;
  for (const [name, spec] of Object.entries(expected.tables)) {
    const found = lookup(actual.tables, name);
    if (found === undefined) {
      out.push(`missing table ${prefix}.${name} (described by the spec, absent from the database)`);
      continue;
    }
    if (spec.managedBy !== undefined) continue;
    const where = `${prefix}.${name}`;
    out.push(
      ...diffColumns(where, spec.columns, found.columns),
      ...diffDefinitions(where, 'constraint', spec.constraints, found.constraints),
      ...diffDefinitions(where, 'index', spec.indexes, found.indexes),
    );
  }
  for (const [name, found] of Object.entries(actual.tables)) {
    if (!has(expected.tables, name)) {
      const columns = Object.keys(found.columns).join(', ') || 'no columns';
      out.push(`unexpected table ${prefix}.${name} (in the database, not described by the spec): ${columns}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The spec file.

interface NamedDefinition {
  definition: string;
  description?: string;
}

/** The YAML as written; descriptions are for readers and are checked only for presence. */
interface SpecFile {
  schema: string;
  service: string;
  description: string;
  tables: Record<
    string,
    {
      description: string;
      managedBy?: string;
      columns?: Record<string, ColumnShape & { description: string }>;
      constraints?: Record<string, NamedDefinition>;
      indexes?: Record<string, NamedDefinition>;
    }
  >;
}

const text = { type: 'string', minLength: 1 } as const;
const namedDefinitions = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    additionalProperties: false,
    required: ['definition'],
    properties: { definition: text, description: text },
  },
} as const;

// additionalProperties: false everywhere, so that a misspelt key (`nulable`) is an error, not a silent no-op.
const specFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['schema', 'service', 'description', 'tables'],
  properties: {
    schema: text,
    service: text,
    description: text,
    tables: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['description'],
        properties: {
          description: text,
          managedBy: text,
          columns: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              additionalProperties: false,
              required: ['type', 'nullable', 'default', 'description'],
              properties: {
                type: text,
                nullable: { type: 'boolean' },
                default: { type: ['string', 'null'] },
                description: text,
              },
            },
          },
          constraints: namedDefinitions,
          indexes: namedDefinitions,
        },
      },
    },
  },
} as const;

const validateSpecFile = new Ajv({ allErrors: true, allowUnionTypes: true }).compile<SpecFile>(specFileSchema);

function describeError(e: ErrorObject): string {
  const at = e.instancePath || '/';
  // YAML reads an unquoted `0` or `false` as a number or boolean; a default is SQL text, so it is quoted.
  if (e.instancePath.endsWith('/default') && e.keyword === 'type') {
    return `${at}: must be a quoted string (the SQL expression as pg_get_expr prints it, e.g. '0' or 'false') or null`;
  }
  if (e.keyword === 'additionalProperties') return `${at}: unknown key ${JSON.stringify(e.params.additionalProperty)}`;
  return `${at}: ${e.message ?? e.keyword}`;
}

const definitions = (named: Record<string, NamedDefinition> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(named ?? {}).map(([name, { definition }]) => [name, definition]));

/** Parses and validates a spec file's text into the canonical shape; `source` names it in error messages. */
export function parseSpec(yamlText: string, source = '(inline)'): SchemaShape {
  const invalid = (problems: string[]) =>
    new Error(`Invalid database spec ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  let raw: unknown;
  try {
    raw = parse(yamlText);
  } catch (err) {
    throw invalid([err instanceof Error ? err.message : String(err)]);
  }
  if (!validateSpecFile(raw)) throw invalid((validateSpecFile.errors ?? []).map(describeError));
  const problems: string[] = [];
  const tables: Record<string, TableShape> = {};
  for (const [name, table] of Object.entries(raw.tables)) {
    const { managedBy, columns, constraints, indexes } = table;
    if (managedBy !== undefined) {
      // Listing them would suggest they are checked; they are not (see TableShape.managedBy).
      if (columns || constraints || indexes) {
        problems.push(`/tables/${name}: a table with managedBy lists no columns, constraints or indexes`);
      }
      tables[name] = { managedBy, columns: {}, constraints: {}, indexes: {} };
      continue;
    }
    if (!columns || !constraints || !indexes) {
      problems.push(`/tables/${name}: needs columns, constraints and indexes (write {} for none)`);
      continue;
    }
    tables[name] = {
      columns: Object.fromEntries(
        Object.entries(columns).map(([column, c]) => [
          column,
          { type: c.type, nullable: c.nullable, default: c.default },
        ]),
      ),
      constraints: definitions(constraints),
      indexes: definitions(indexes),
    };
  }
  if (problems.length > 0) throw invalid(problems);
  return { schema: raw.schema, tables };
}

// ---------------------------------------------------------------------------------------------------------
// The database.

const TABLES = `
  select c.relname as "table"
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and c.relkind in ('r', 'p')
  order by c.relname`;

const COLUMNS = `
  select c.relname as "table", a.attname as name,
         pg_catalog.format_type(a.atttypid, a.atttypmod) as type,
         not a.attnotnull as nullable,
         case
           when a.attidentity = 'a' then 'GENERATED ALWAYS AS IDENTITY'
           when a.attidentity = 'd' then 'GENERATED BY DEFAULT AS IDENTITY'
           when a.attgenerated = 's' then 'GENERATED ALWAYS AS (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) || ') STORED'
           when a.attgenerated = 'v' then 'GENERATED ALWAYS AS (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) || ') VIRTUAL'
           else pg_catalog.pg_get_expr(d.adbin, d.adrelid)
         end as "default"
  from pg_catalog.pg_attribute a
  join pg_catalog.pg_class c on c.oid = a.attrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
  order by c.relname, a.attnum`;

// contype 'n': PostgreSQL 18 records NOT NULL as constraints too; nullability is compared per column instead,
// so that the spec reads the same on every server version.
const CONSTRAINTS = `
  select c.relname as "table", k.conname as name, pg_catalog.pg_get_constraintdef(k.oid) as definition
  from pg_catalog.pg_constraint k
  join pg_catalog.pg_class c on c.oid = k.conrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and c.relkind in ('r', 'p') and k.contype <> 'n'
  order by c.relname, k.conname`;

const INDEXES = `
  select c.relname as "table", i.relname as name, pg_catalog.pg_get_indexdef(x.indexrelid) as definition
  from pg_catalog.pg_index x
  join pg_catalog.pg_class i on i.oid = x.indexrelid
  join pg_catalog.pg_class c on c.oid = x.indrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and c.relkind in ('r', 'p')
  order by c.relname, i.relname`;

interface Named {
  table: string;
  name: string;
  definition: string;
}

/** Reads one schema's tables from pg_catalog; null when the schema does not exist. */
export async function readSchema(databaseUrl: string, schema: string): Promise<SchemaShape | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // The pg_get_* functions qualify a name only when the search_path does not reach it; an empty path makes
    // them qualify every one (`auth.users(id)`, `'auth.x_seq'::regclass`), whatever the connection's settings.
    await client.query(`select pg_catalog.set_config('search_path', '', false)`);
    const exists = await client.query('select 1 from pg_catalog.pg_namespace where nspname = $1', [schema]);
    if (exists.rowCount === 0) return null;

    // One after the other: pg deprecates overlapping queries on one client.
    const tables = await client.query<{ table: string }>(TABLES, [schema]);
    const columns = await client.query<ColumnShape & { table: string; name: string }>(COLUMNS, [schema]);
    const constraints = await client.query<Named>(CONSTRAINTS, [schema]);
    const indexes = await client.query<Named>(INDEXES, [schema]);
    const shape: SchemaShape = { schema, tables: {} };
    const table = (name: string): TableShape => {
      const found = lookup(shape.tables, name);
      if (!found) throw new Error(`pg_catalog listed ${schema}.${name} as the owner of an object but not as a table`);
      return found;
    };
    for (const row of tables.rows) shape.tables[row.table] = { columns: {}, constraints: {}, indexes: {} };
    for (const c of columns.rows)
      table(c.table).columns[c.name] = { type: c.type, nullable: c.nullable, default: c.default };
    for (const k of constraints.rows) table(k.table).constraints[k.name] = k.definition;
    for (const i of indexes.rows) table(i.table).indexes[i.name] = i.definition;
    return shape;
  } finally {
    await client.end();
  }
}

/**
 * Throws unless the schema named in the spec at `specPath` is exactly what the spec describes; the error
 * lists every difference. `specPath` is a file path (tests resolve it from their own import.meta.url).
 */
export async function assertSchemaMatchesSpec(databaseUrl: string, specPath: string): Promise<void> {
  const expected = parseSpec(await readFile(specPath, 'utf8'), specPath);
  const actual = await readSchema(databaseUrl, expected.schema);
  const differences = actual
    ? diffSchemas(expected, actual)
    : [`schema ${expected.schema} does not exist in the database (have its migrations run?)`];
  if (differences.length === 0) return;
  throw new Error(
    [
      `The "${expected.schema}" schema differs from ${specPath} (${differences.length} difference${differences.length === 1 ? '' : 's'}):`,
      ...differences.map((d) => `  - ${d}`),
      'A migration that changes the schema updates the spec in the same commit; see specs/database/README.md.',
    ].join('\n'),
  );
}
