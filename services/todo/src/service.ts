/**
 * Wires the todo service from a parsed config and starts it: database, broker, the auth service's keys,
 * the API on PORT and the ops endpoints on OPS_PORT. `stop()` undoes it in order.
 * Used by server.ts and, in-process, by the tests.
 */
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { RevocationList, remoteKeys } from '@todo/platform/auth';
import type { MigrationConfig } from '@todo/platform/config';
import { connectDatabase, type DatabaseOptions, databaseOptionsFrom, databaseReady } from '@todo/platform/db';
import { authEventsStream, connectBroker, ensureStream, pingBroker } from '@todo/platform/events';
import { createMetrics, type RunningServer, serve } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import { createApp } from './app.ts';
import type { TodoConfig } from './config.ts';
import { entities } from './entities/index.ts';
import { forgetDeletedUsers } from './events/forget-deleted-users.ts';
import { followRevocations } from './events/revocation-feed.ts';
import { migrations } from './migrations/index.ts';
import { IdempotencyKeyRepository } from './repositories/idempotency-key.repository.ts';

export const SERVICE_NAME = 'todo';

/** The service's OpenAPI document, served on the ops port at /openapi.json and rendered at /docs. */
export const API_SPEC = fileURLToPath(new URL('../../../specs/api/todo.openapi.yaml', import.meta.url));

async function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunningTodoService {
  api: RunningServer;
  ops: RunningServer;
  revocations: RevocationList;
  stop(): Promise<void>;
}

export const databaseOptions = (config: MigrationConfig, logger: Logger): DatabaseOptions =>
  databaseOptionsFrom(config, { schema: 'todo', entities, migrations, applicationName: SERVICE_NAME }, logger);

export async function startTodoService(config: TodoConfig, logger: Logger): Promise<RunningTodoService> {
  const orm = await connectDatabase(databaseOptions(config, logger));
  const nats = await connectBroker({ url: config.NATS_URL, name: SERVICE_NAME, logger });
  const keys = remoteKeys(config.AUTH_JWKS_URL, {
    cacheMaxAgeMs: config.JWKS_CACHE_MAX_AGE_SECONDS * 1000,
    cooldownMs: config.JWKS_COOLDOWN_SECONDS * 1000,
  });
  const revocations = new RevocationList();
  const js = jetstream(nats);
  const jsm = await jetstreamManager(nats);
  const namespace = config.EVENTS_NAMESPACE;
  await ensureStream(jsm, authEventsStream(namespace));
  const feed = await followRevocations({
    js,
    namespace,
    revocations,
    logger,
    replaySeconds: config.REVOCATION_REPLAY_SECONDS,
  });
  // Serve no request before the recent revocations are known: a revoked token must not slip through.
  await withDeadline(feed.caughtUp, 30_000, 'the revocation feed did not catch up within 30 s');
  const forgetter = await forgetDeletedUsers({ js, jsm, orm, namespace, logger });
  const pruneRevocations = setInterval(() => revocations.prune(), 60_000);
  pruneRevocations.unref();
  const expireKeys = setInterval(() => {
    new IdempotencyKeyRepository(orm.em.fork())
      .expire()
      .catch((err: unknown) => logger.warn({ err }, 'could not expire idempotency keys'));
  }, 3_600_000);
  expireKeys.unref();
  const metrics = createMetrics(SERVICE_NAME);
  const app = createApp({ config, logger, metrics, orm, keys, revocations });
  const served = await serve({
    name: SERVICE_NAME,
    app,
    config,
    logger,
    metrics,
    checks: { database: databaseReady(orm), nats: () => pingBroker(nats) },
    docs: { specPath: API_SPEC, title: 'Todo API' },
  });

  return {
    api: served.api,
    ops: served.ops,
    revocations,
    async stop() {
      await served.drain();
      clearInterval(pruneRevocations);
      clearInterval(expireKeys);
      await Promise.all([feed.stop(), forgetter.stop()]);
      await nats.drain().catch((err: unknown) => logger.warn({ err }, 'NATS drain failed'));
      await orm.close();
    },
  };
}
