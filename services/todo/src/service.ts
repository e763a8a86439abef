/**
 * Wires the todo service from a parsed config and starts it: database, broker, the auth service's keys,
 * the API on PORT and the ops endpoints on OPS_PORT. `stop()` undoes it in order.
 * Used by server.ts and, in-process, by the tests.
 */
import { RevocationList, remoteKeys } from '@todo/platform/auth';
import { connectDatabase, type DatabaseOptions } from '@todo/platform/db';
import { connectBroker, pingBroker } from '@todo/platform/events';
import { createMetrics, createOpsApp, listen, type RunningServer } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import { createApp } from './app.ts';
import type { TodoConfig, TodoMigrationConfig } from './config.ts';
import { entities } from './entities/index.ts';
import { migrations } from './migrations/index.ts';

export const SERVICE_NAME = 'todo';

export interface RunningTodoService {
  api: RunningServer;
  ops: RunningServer;
  revocations: RevocationList;
  stop(): Promise<void>;
}

export function databaseOptions(config: TodoMigrationConfig, logger: Logger): DatabaseOptions {
  return {
    url: config.DATABASE_URL,
    schema: 'todo',
    entities,
    migrations,
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    applicationName: SERVICE_NAME,
    logger,
  };
}

export async function startTodoService(config: TodoConfig, logger: Logger): Promise<RunningTodoService> {
  const orm = await connectDatabase(databaseOptions(config, logger));
  const nats = await connectBroker({ url: config.NATS_URL, name: SERVICE_NAME, logger });
  const keys = remoteKeys(config.AUTH_JWKS_URL, {
    cacheMaxAgeMs: config.JWKS_CACHE_MAX_AGE_SECONDS * 1000,
    cooldownMs: config.JWKS_COOLDOWN_SECONDS * 1000,
  });
  const revocations = new RevocationList();
  const pruneRevocations = setInterval(() => revocations.prune(), 60_000);
  pruneRevocations.unref();
  const metrics = createMetrics(SERVICE_NAME);
  let draining = false;

  const app = createApp({ config, logger, metrics, orm, keys, revocations });
  const opsApp = createOpsApp({
    logger,
    metrics,
    isDraining: () => draining,
    checks: {
      database: async () => {
        const check = await orm.checkConnection();
        if (!check.ok) throw new Error(check.reason);
      },
      nats: () => pingBroker(nats),
    },
  });
  const api = await listen(app, config.PORT, config.HOST);
  const ops = await listen(opsApp, config.OPS_PORT, config.HOST);
  logger.info({ api: api.url, ops: ops.url }, 'todo service listening');

  return {
    api,
    ops,
    revocations,
    async stop() {
      draining = true;
      if (config.SHUTDOWN_DELAY_MS > 0) await new Promise((r) => setTimeout(r, config.SHUTDOWN_DELAY_MS));
      clearInterval(pruneRevocations);
      await api.close(config.SHUTDOWN_TIMEOUT_MS);
      await ops.close(1_000);
      await nats.drain().catch((err: unknown) => logger.warn({ err }, 'NATS drain failed'));
      await orm.close();
    },
  };
}
