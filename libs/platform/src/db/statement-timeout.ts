/**
 * The services' statement timeout, kept where a transaction pooler cannot refuse it: as the setting of their
 * role in their database. PgBouncer in transaction mode (Neon's `-pooler` endpoint) refuses
 * `statement_timeout` as a startup parameter, and a session-level `SET` would leak into whichever client
 * gets the server connection next. A role setting applies to every session the pooler opens for the role.
 * The setup step sets it; each service reads back what its sessions run with and says so when it differs.
 */
import pg from 'pg';
import type { Logger } from '../logger.ts';
import type { MikroORM } from './connect.ts';

/**
 * Sets `statement_timeout` for the role of `url` in its database (0: removes the setting). Through a pooler,
 * the server session this runs in was opened before the change, and the pooler keeps it for later clients:
 * so the same statement also sets it for that session (one simple query, so one session).
 */
export async function setRoleStatementTimeout(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    const database = pg.escapeIdentifier(rows[0]?.db ?? '');
    const value = timeoutMs > 0 ? `${Math.trunc(timeoutMs)}` : 'DEFAULT';
    await client.query(
      `ALTER ROLE CURRENT_USER IN DATABASE ${database} SET statement_timeout = ${value}; SET statement_timeout = ${value}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The statement timeout the service's pooled sessions run with, in milliseconds (0: none). */
export async function sessionStatementTimeout(orm: MikroORM): Promise<number> {
  const [row] = await orm.em
    .getConnection()
    .execute<{ ms: string }[]>(`SELECT setting AS ms FROM pg_settings WHERE name = 'statement_timeout'`);
  return Number(row?.ms ?? 0);
}

/**
 * Logs a warning when the sessions do not run with `expectedMs` (0 expects nothing). Not fatal: after a
 * change, a pooler keeps serving on server connections opened before it until it recycles them.
 */
export async function checkStatementTimeout(orm: MikroORM, expectedMs: number, logger: Logger): Promise<void> {
  if (expectedMs === 0) return;
  const actualMs = await sessionStatementTimeout(orm);
  if (actualMs === expectedMs) return;
  logger.warn(
    { expectedMs, actualMs },
    'the database sessions do not run with DATABASE_STATEMENT_TIMEOUT_MS: run the setup step (npm run migrate, the migration Jobs), which sets it on the role; a pooler applies it to the server connections it opens from then on',
  );
}
