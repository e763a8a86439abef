/**
 * The ORM bootstrap both services share. Built for Neon: `DATABASE_URL` may carry `sslmode` (with a CA file
 * for a private CA), the pool is small, nothing depends on session state (so the pooled endpoint, a PgBouncer
 * in transaction mode, works), and the first connection is retried with backoff because a scaled-to-zero
 * compute takes about a second to wake, while a permanent refusal (password, database, certificate) stops at
 * once. Each service keeps its tables in its own PostgreSQL schema. A query waits a bounded time for a pooled
 * connection, in a bounded queue: a busy pool fails fast (`DatabaseBusyError`, a 503).
 */
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, MikroORM } from '@mikro-orm/postgresql';
import pRetry, { AbortError } from 'p-retry';
import pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BaseConfig, MigrationConfig } from '../config.ts';
import { DatabaseBusyError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { permanentConnectionProblem } from './connection-errors.ts';

export type { MikroORM } from '@mikro-orm/postgresql';

export interface DatabaseOptions {
  /** The connection URL, the CA file (if any) already in it as `sslrootcert`. */
  url: string;
  /** The service's own PostgreSQL schema (`auth`, `todo`). */
  schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas are heterogeneous by nature
  entities: EntitySchema<any, any>[];
  migrations: MigrationObject[];
  poolMax: number;
  connectTimeoutMs: number;
  /**
   * The longest a query waits for a pooled connection (the services set it; the setup step does not). pg has
   * one timer for waiting for a free connection and for opening a new one, so this also caps connectTimeoutMs.
   */
  acquireTimeoutMs?: number;
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

/** The DATABASE_* settings, as `baseConfigSchema` parses them (the setup step's have no acquire timeout). */
export type DatabaseSettings = Pick<
  MigrationConfig,
  'DATABASE_URL' | 'DATABASE_CA_FILE' | 'DATABASE_POOL_MAX' | 'DATABASE_CONNECT_TIMEOUT_MS'
> &
  Partial<Pick<BaseConfig, 'DATABASE_ACQUIRE_TIMEOUT_MS'>>;

/**
 * `url` with `caFile` as its `sslrootcert`, which pg reads and verifies the server's certificate against (the
 * host name too, with `sslmode=verify-full`). A URL that names its own `sslrootcert` keeps it.
 */
export function withCaFile(url: string, caFile: string | undefined): string {
  if (!caFile) return url;
  const parsed = new URL(url);
  if (!parsed.searchParams.has('sslrootcert')) parsed.searchParams.set('sslrootcert', caFile);
  return parsed.toString();
}

/** DatabaseOptions from the shared DATABASE_* settings and what the service itself defines. */
export function databaseOptionsFrom(
  config: DatabaseSettings,
  definition: SchemaDefinition,
  logger: Logger,
): DatabaseOptions {
  return {
    ...definition,
    url: withCaFile(config.DATABASE_URL, config.DATABASE_CA_FILE),
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    acquireTimeoutMs: config.DATABASE_ACQUIRE_TIMEOUT_MS,
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
      // pg-pool applies this both to a checkout waiting for a free connection and to opening a new one.
      connectionTimeoutMillis: Math.min(options.connectTimeoutMs, options.acquireTimeoutMs ?? Number.POSITIVE_INFINITY),
      // The only startup parameter besides user and database that is sent; PgBouncer passes it on. The statement
      // timeout is the role's setting instead (see statement-timeout.ts): a pooler refuses it here.
      application_name: options.applicationName,
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
 * to zero takes a moment to wake, and a pod may start before its database is reachable. A refusal that no
 * retry fixes (`permanentConnectionProblem`) ends it at once.
 */
export async function connectDatabase(options: DatabaseOptions, { deadlineMs = 30_000 } = {}): Promise<MikroORM> {
  const orm = await MikroORM.init(ormOptions(options));
  try {
    await pRetry(
      async () => {
        await orm.connect();
        const check = await orm.checkConnection();
        if (check.ok) return;
        const error = check.error ?? new Error(check.reason);
        const problem = permanentConnectionProblem(error);
        throw problem ? new AbortError(problem) : error;
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

/** Every connection is checked out and the pool may open no more: a checkout now has to wait. */
const isFull = (pool: pg.Pool) => pool.idleCount === 0 && pool.totalCount >= pool.options.max;

/** pg-pool's message for a checkout that waited its time for a free connection (not one that failed to open). */
const WAITED_TOO_LONG = 'timeout exceeded when trying to connect';

/** What a refused checkout asks the client to wait: a burst has usually passed by then. */
const BUSY_RETRY_AFTER_SECONDS = 2;

type Checkout = (err: Error | undefined, client: pg.PoolClient | undefined, release: (err?: Error) => void) => void;

/**
 * Bounds the queue of checkouts waiting for a pooled connection. pg's Pool bounds how long each waits (the
 * acquire timeout) but not how many wait, and kysely, MikroORM and the rate limiters all call `pool.connect`
 * directly, so the bound sits on the pool itself: with `maxWaiting` checkouts waiting, the next is refused
 * at once. Both refusals (full queue, waited too long) become a `DatabaseBusyError` and are counted; a
 * connection that cannot be opened fails as it did, with its own error.
 */
export async function limitPoolWaiting(
  orm: MikroORM,
  { maxWaiting, registry }: { maxWaiting: number; registry: Registry },
): Promise<void> {
  const pool = await orm.em.getConnection().getNativeClient();
  const refused = new Counter({
    name: 'db_pool_checkouts_refused_total',
    help: 'Checkouts of a pooled connection refused because every connection stayed busy: timeout (waited DATABASE_ACQUIRE_TIMEOUT_MS) or queue_full (DATABASE_POOL_MAX_WAITING already waiting). An API request refused so is a 503 database-busy.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const refuse = (reason: 'timeout' | 'queue_full', cause?: Error) => {
    refused.inc({ reason });
    return new DatabaseBusyError(BUSY_RETRY_AFTER_SECONDS, cause);
  };
  const connect = pool.connect.bind(pool) as (callback: Checkout) => void;
  const checkout = (done: Checkout) => {
    const waits = isFull(pool);
    if (waits && pool.waitingCount >= maxWaiting) {
      process.nextTick(done, refuse('queue_full'), undefined, () => undefined);
      return;
    }
    connect((err, client, release) =>
      done(waits && err?.message === WAITED_TOO_LONG ? refuse('timeout', err) : err, client, release),
    );
  };
  // pg-pool itself calls `this.connect(callback)` (pool.query); kysely awaits `pool.connect()`.
  pool.connect = ((callback?: Checkout) => {
    if (callback) return checkout(callback);
    return new Promise<pg.PoolClient>((resolve, reject) =>
      checkout((err, client) => (err || !client ? reject(err) : resolve(client))),
    );
  }) as typeof pool.connect;
}

/**
 * A readiness check: a round trip to the database. Through the pool while a connection is free; when every
 * pooled connection is busy, over a connection of its own, so that a busy pool (load, answered with 503s
 * and counted) never reads as an unreachable database and takes the replica out of the load balancer.
 */
export const databaseReady = (orm: MikroORM) => async (): Promise<void> => {
  const pool = await orm.em.getConnection().getNativeClient();
  if (!isFull(pool)) {
    const check = await orm.checkConnection();
    if (!check.ok) throw new Error(check.reason);
    return;
  }
  const client = new pg.Client(pool.options);
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
};
