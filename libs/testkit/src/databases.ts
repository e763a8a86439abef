/**
 * One database per test file, cloned from a template that the global setup migrated once: files run in
 * parallel without seeing each other's rows, and a clone costs a file copy instead of a migration run.
 */
import { randomBytes } from 'node:crypto';
import pRetry from 'p-retry';
import pg from 'pg';
import { inject } from 'vitest';

const withDatabase = (url: string, name: string): string => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** Runs `fn` on a connection to `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs one statement on the database at `url`; its rows. */
export const query = (url: string, text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> =>
  withClient(url, async (client) => (await client.query(text, values)).rows);

const admin = (serverUrl: string, sql: string) => withClient(withDatabase(serverUrl, 'postgres'), (c) => c.query(sql));

export const uniqueName = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

/** Creates an empty database and returns its URL; `migrate` fills it; the caller drops it. */
export async function createTemplate(serverUrl: string, migrate: (url: string) => Promise<void>): Promise<string> {
  const name = uniqueName('tmpl');
  await admin(serverUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  await migrate(withDatabase(serverUrl, name));
  return name;
}

export interface TestDatabase {
  /** What the services connect to: through the project's pooler when it has one (as Neon's `-pooler` endpoint). */
  url: string;
  /** The database itself, never through a pooler (as Neon's direct endpoint): migrations, session-level work. */
  directUrl: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A database of the calling test file's own, cloned from the project's migrated template; `url` goes through the
 * project's pooler when it runs behind one (a PgBouncer in transaction mode, see the global setup).
 */
export async function cloneDatabase(
  serverUrl = inject('databaseServerUrl'),
  template = inject('databaseTemplate'),
  poolerUrl: string | undefined = inject('databasePoolerUrl'),
): Promise<TestDatabase> {
  const name = uniqueName('test');
  await pRetry(
    () => admin(serverUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`),
    // 55006: another clone of the same template is being made at this instant.
    {
      retries: 20,
      minTimeout: 50,
      maxTimeout: 1_000,
      shouldRetry: ({ error }) => (error as { code?: string }).code === '55006',
    },
  );
  const directUrl = withDatabase(serverUrl, name);
  return {
    url: poolerUrl ? withDatabase(poolerUrl, name) : directUrl,
    directUrl,
    name,
    drop: () => dropDatabase(serverUrl, name),
  };
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await admin(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}
