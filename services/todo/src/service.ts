/**
 * Wires the todo service from a parsed config and starts it: database, broker, the auth service's keys,
 * the event machinery (outbox relay, revocation feed, deleted-user consumer), the API on PORT and the ops
 * endpoints on OPS_PORT. `stop()` undoes it in order. Used by server.ts and, in-process, by the tests.
 */
import { fileURLToPath } from 'node:url';
import { RevocationList, remoteKeys } from '@todo/platform/auth';
import {
  connectDatabase,
  type DatabaseOptions,
  type DatabaseSettings,
  databaseOptionsFrom,
  databaseReady,
  registerPoolMetrics,
} from '@todo/platform/db';
import { eventReadiness, Outbox, OutboxRelay, openBroker } from '@todo/platform/events';
import { createMetrics, type RunningServer, serve } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import { createApp } from './app.ts';
import type { TodoConfig } from './config.ts';
import type { TodoDeps } from './domain/deps.ts';
import { entities } from './entities/index.ts';
import { forgetDeletedUsers } from './events/forget-deleted-users.ts';
import { followRevocations } from './events/revocation-feed.ts';
import { migrations } from './migrations/index.ts';
import { IdempotencyKeyRepository } from './repositories/idempotency-key.repository.ts';

export const SERVICE_NAME = 'todo';

/** The service's OpenAPI document, served on the ops port at /openapi.json and rendered at /docs. */
export const API_SPEC = fileURLToPath(new URL('../../../specs/api/todo.openapi.yaml', import.meta.url));
const EVENTS_SPEC = fileURLToPath(new URL('../../../specs/events/asyncapi.yaml', import.meta.url));

/** How long a starting replica waits to learn the recent revocations before it serves anyway (and says so). */
const FEED_STARTUP_WAIT_MS = 15_000;

export interface RunningTodoService {
  api: RunningServer;
  ops: RunningServer;
  revocations: RevocationList;
  stop(): Promise<void>;
}

export const databaseOptions = (config: DatabaseSettings, logger: Logger): DatabaseOptions =>
  databaseOptionsFrom(config, { schema: 'todo', entities, migrations, applicationName: SERVICE_NAME }, logger);

export async function startTodoService(config: TodoConfig, logger: Logger): Promise<RunningTodoService> {
  const metrics = createMetrics(SERVICE_NAME);
  const registry = metrics.registry;
  const namespace = config.EVENTS_NAMESPACE;
  const orm = await connectDatabase(databaseOptions(config, logger));
  await registerPoolMetrics(orm, metrics.registry);
  const broker = openBroker({ settings: config, name: SERVICE_NAME, logger, registry });
  const keys = remoteKeys(config.AUTH_JWKS_URL, {
    cacheMaxAgeMs: config.JWKS_CACHE_MAX_AGE_SECONDS * 1000,
    cooldownMs: config.JWKS_COOLDOWN_SECONDS * 1000,
  });
  const outbox = new Outbox(`todo-platform/${SERVICE_NAME}`);
  const todos: TodoDeps = { outbox, idempotencyWaitMs: config.IDEMPOTENCY_WAIT_MS };
  const relay = new OutboxRelay({ orm, outbox, broker, namespace, logger, registry });
  relay.start();

  const revocations = new RevocationList();
  const feed = followRevocations({
    broker,
    namespace,
    service: SERVICE_NAME,
    revocations,
    logger,
    registry,
    replaySeconds: config.REVOCATION_REPLAY_SECONDS,
    staleAfterSeconds: config.REVOCATION_STALE_AFTER_SECONDS,
  });
  // Serve no request before the recent revocations are known, unless NATS is away: then serve, and say so.
  const caughtUp = await Promise.race([
    feed.caughtUp.then(() => true),
    new Promise<false>((resolve) => setTimeout(resolve, FEED_STARTUP_WAIT_MS, false).unref()),
  ]);
  if (!caughtUp) {
    logger.error(
      { waitedMs: FEED_STARTUP_WAIT_MS },
      'starting without the recent revocations: the revocation feed could not read the auth events yet',
    );
  }
  const forgetter = forgetDeletedUsers({
    broker,
    orm,
    deps: todos,
    namespace,
    service: SERVICE_NAME,
    logger,
    registry,
  });
  const pruneRevocations = setInterval(() => revocations.prune(), 60_000);
  pruneRevocations.unref();
  const expireKeys = setInterval(() => {
    new IdempotencyKeyRepository(orm.em.fork())
      .expire()
      .catch((err: unknown) => logger.warn({ err }, 'could not expire idempotency keys'));
  }, 3_600_000);
  expireKeys.unref();

  const maxStalenessMs = config.REVOCATION_MAX_STALENESS_SECONDS * 1000;
  const revocationsCurrent = () => maxStalenessMs === 0 || feed.health().stalenessMs <= maxStalenessMs;
  const app = createApp({ config, logger, metrics, orm, keys, revocations, revocationsCurrent, todos });
  const served = await serve({
    name: SERVICE_NAME,
    app,
    config,
    logger,
    metrics,
    checks: { database: databaseReady(orm) },
    details: eventReadiness({ broker, relay, followers: { revocations: feed } }),
    docs: { specPath: API_SPEC, eventsSpecPath: EVENTS_SPEC, title: 'Todo API' },
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
      await relay.stop();
      await broker.close();
      await orm.close();
    },
  };
}
