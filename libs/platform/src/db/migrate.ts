/**
 * The explicit migration step (`npm run migrate`), never run by a request, and its counterpart for new pods
 * (`waitForSchema`). Migrating creates the database when it is missing (local development; on Neon the
 * database exists and this is a no-op), then applies every pending migration in ONE transaction that first
 * takes a transaction-scoped advisory lock: two deploys migrating at once run one after the other, and since
 * nothing outlives the transaction, it is as safe through a transaction pooler (PgBouncer, Neon's `-pooler`
 * endpoint) as on a direct connection. DDL waits at most `lockTimeoutMs` for a table lock, so a migration
 * stuck behind a long transaction fails instead of queueing every query of the service behind it.
 */
import type { MigrationObject } from '@mikro-orm/core';
import pRetry, { AbortError } from 'p-retry';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { connectDatabase, type DatabaseOptions } from './connect.ts';
import { permanentConnectionProblem } from './connection-errors.ts';

/** Creates the database named in `url` when the server says it does not exist. */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (err) {
    // Another process created it between our probe and now (42P04), or at the same instant (23505).
    const code = (err as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw err;
  } finally {
    await admin.end();
  }
  return true;
}

export interface MigrationReport {
  createdDatabase: boolean;
  applied: string[];
}

export interface MigrationSettings {
  /** `lock_timeout` of the migration transaction, once it holds the migration lock; 0 waits for ever. */
  lockTimeoutMs: number;
}

/** The key of a schema's migration lock (pg_advisory_xact_lock takes a bigint; hashtext gives an int). */
const lockKey = (schema: string) => `migrate:${schema}`;

/** Applies the pending migrations of `options.schema` at `options.url` (the direct endpoint where there is one). */
export async function migrateDatabase(
  options: DatabaseOptions,
  { lockTimeoutMs }: MigrationSettings = { lockTimeoutMs: 10_000 },
): Promise<MigrationReport> {
  const createdDatabase = await ensureDatabaseExists(options.url);
  // Two connections at most: the migration transaction, and MikroORM's check of its bookkeeping table.
  const orm = await connectDatabase({ ...options, poolMax: Math.max(options.poolMax, 2) });
  try {
    const connection = orm.em.getConnection();
    const applied = await connection.transactional(async (trx) => {
      const run = (sql: string, params: unknown[] = []) => connection.execute(sql, params, 'run', trx);
      // No statement timeout for the migration itself (the role may carry the services' one), and none while
      // waiting for another migrator's lock: that wait is bounded by the caller (a Job's deadline, SIGTERM).
      await run(`SET LOCAL statement_timeout = 0`);
      await run(`SET LOCAL lock_timeout = 0`);
      await run(`SELECT pg_advisory_xact_lock(hashtext(?))`, [lockKey(options.schema)]);
      await run(`SET LOCAL lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
      return orm.migrator.up({ transaction: trx });
    });
    return { createdDatabase, applied: applied.map((m) => m.name) };
  } finally {
    await orm.close();
  }
}

/** The migrations of `migrations` that the schema at `url` has not applied; every one while it has none. */
export async function pendingMigrations(
  client: pg.ClientBase,
  schema: string,
  migrations: readonly MigrationObject[],
): Promise<string[]> {
  let applied: Set<string>;
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT name FROM ${pg.escapeIdentifier(schema)}.mikro_orm_migrations`,
    );
    applied = new Set(rows.map((row) => row.name));
  } catch (err) {
    // 3F000 no such schema, 42P01 no such table: nothing migrated yet.
    const code = (err as { code?: string }).code;
    if (code !== '3F000' && code !== '42P01') throw err;
    applied = new Set();
  }
  return migrations.map((m) => m.name).filter((name) => !applied.has(name));
}

export interface SchemaWait {
  url: string;
  schema: string;
  migrations: readonly MigrationObject[];
  logger: Logger;
  /** How long to wait at most; unbounded by default (the pod's own limits end it). */
  deadlineMs?: number;
}

/**
 * Waits until the schema has every migration of this code (a pod's init container runs it, so a new pod never
 * serves on an older schema), reading only: it needs nothing beyond the service's own connection. An
 * unreachable database is waited out like missing migrations; a permanent refusal ends the wait at once.
 */
export async function waitForSchema({
  url,
  schema,
  migrations,
  logger,
  deadlineMs = Number.POSITIVE_INFINITY,
}: SchemaWait): Promise<void> {
  await pRetry(
    async () => {
      const client = new pg.Client({ connectionString: url, application_name: `${schema}-schema-wait` });
      try {
        await client.connect();
        const pending = await pendingMigrations(client, schema, migrations);
        if (pending.length > 0) throw new Error(`the schema ${schema} lacks ${pending.join(', ')}`);
      } catch (err) {
        const problem = permanentConnectionProblem(err);
        throw problem ? new AbortError(problem) : err;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    {
      retries: Number.POSITIVE_INFINITY,
      maxRetryTime: deadlineMs,
      minTimeout: 500,
      maxTimeout: 5_000,
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) =>
        logger.info(
          { attempt: attemptNumber, retryInMs: retryDelay, reason: error.message },
          'waiting for the migrations of this version',
        ),
    },
  );
}
