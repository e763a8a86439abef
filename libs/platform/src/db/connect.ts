/**
 * The ORM bootstrap both services share. Built for Neon: `DATABASE_URL` may carry `sslmode`, the pool is
 * small, and the first connection is retried with backoff because a scaled-to-zero compute takes about a
 * second to wake. Each service keeps its tables in its own PostgreSQL schema.
 */
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, MikroORM } from '@mikro-orm/postgresql';
import pRetry from 'p-retry';
import { Gauge, type Registry } from 'prom-client';
import type { MigrationConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

export type { MikroORM } from '@mikro-orm/postgresql';

export interface DatabaseOptions {
  url: string;
  /** The service's own PostgreSQL schema (`auth`, `todo`). */
  schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas are heterogeneous by nature
  entities: EntitySchema<any, any>[];
  migrations: MigrationObject[];
  poolMax: number;
  connectTimeoutMs: number;
  /** 0 leaves the server's (or role's) setting alone, which is what PgBouncer-style poolers need. */
  statementTimeoutMs: number;
  applicationName: string;
  logger: Logger;
}

export interface SchemaDefinition {
  schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas are heterogeneous by nature
  entities: EntitySchema<any, any>[];
  migrations: MigrationObject[];
  applicationName: string;
}

/** The DATABASE_* settings, as `baseConfigSchema` parses them. */
export type DatabaseSettings = Pick<
  MigrationConfig,
  'DATABASE_URL' | 'DATABASE_POOL_MAX' | 'DATABASE_CONNECT_TIMEOUT_MS' | 'DATABASE_STATEMENT_TIMEOUT_MS'
>;

/** DatabaseOptions from the shared DATABASE_* settings and what the service itself defines. */
export function databaseOptionsFrom(
  config: DatabaseSettings,
  definition: SchemaDefinition,
  logger: Logger,
): DatabaseOptions {
  return {
    ...definition,
    url: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    logger,
  };
}

export function ormOptions(options: DatabaseOptions) {
  const { logger } = options;
  return defineConfig({
    clientUrl: options.url,
    schema: options.schema,
    entities: options.entities,
    extensions: [Migrator],
    ensureDatabase: false,
    allowGlobalContext: false,
    pool: { min: 0, max: options.poolMax, idleTimeoutMillis: 30_000 },
    driverOptions: {
      // pg reads sslmode (and the rest of the URL) from here; MikroORM alone would drop it.
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: options.applicationName,
      ...(options.statementTimeoutMs > 0 ? { statement_timeout: options.statementTimeoutMs } : {}),
    },
    migrations: {
      tableName: `${options.schema}.mikro_orm_migrations`,
      migrationsList: options.migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    debug: false,
    logger: (message: string) => logger.debug({ component: 'mikro-orm' }, message),
    slowQueryThreshold: 500,
  });
}

/**
 * Connects, retrying with exponential backoff and jitter for up to `deadlineMs`: a Neon compute that scaled
 * to zero takes a moment to wake, and a pod may start before its database is reachable.
 */
export async function connectDatabase(options: DatabaseOptions, { deadlineMs = 30_000 } = {}): Promise<MikroORM> {
  const orm = await MikroORM.init(ormOptions(options));
  try {
    await pRetry(
      async () => {
        await orm.connect();
        const check = await orm.checkConnection();
        if (!check.ok) throw check.error ?? new Error(check.reason);
      },
      {
        retries: Number.POSITIVE_INFINITY,
        maxRetryTime: deadlineMs,
        minTimeout: 250,
        maxTimeout: 4_000,
        randomize: true,
        onFailedAttempt: ({ error, attemptNumber, retryDelay }) =>
          options.logger.warn(
            { attempt: attemptNumber, retryInMs: retryDelay, reason: error.message },
            'database not reachable yet',
          ),
      },
    );
    return orm;
  } catch (err) {
    await orm.close(true).catch(() => undefined);
    throw new Error('could not connect to PostgreSQL', { cause: err });
  }
}

/**
 * The connection pool as gauges, scraped live: `busy` connections that never come back are a leak (a
 * transaction that lost its connection without releasing it), which ends with every request waiting.
 */
export async function registerPoolMetrics(orm: MikroORM, registry: Registry): Promise<void> {
  const pool = await orm.em.getConnection().getNativeClient();
  new Gauge({
    name: 'db_pool_connections',
    help: 'PostgreSQL pool connections by state: busy (checked out), idle, and requests waiting for one.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'busy' }, pool.totalCount - pool.idleCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
}

/** A readiness check: a round trip to the database. */
export const databaseReady = (orm: MikroORM) => async (): Promise<void> => {
  const check = await orm.checkConnection();
  if (!check.ok) throw new Error(check.reason);
};
