/**
 * One database per test file, cloned from a template that the global setup migrated once: files run in
 * parallel without seeing each other's rows, and a clone costs a file copy instead of a migration run.
 */
import { randomBytes } from 'node:crypto';
import pRetry from 'p-retry';
import pg from 'pg';

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
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function cloneDatabase(serverUrl: string, template: string): Promise<TestDatabase> {
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
  return { url: withDatabase(serverUrl, name), name, drop: () => dropDatabase(serverUrl, name) };
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await admin(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}
