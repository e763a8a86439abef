/**
 * What the todo service builds on the shared foundation (database, NATS, outbox, metrics): the auth
 * service's keys, the revocation feed, the deleted-user consumer, the use cases' dependencies and the app.
 * server.ts runs it (`runService`), the tests start it with `startTestService`.
 */

import { followRevocations, RevocationList, remoteKeys } from '@todo/platform/auth';
import { withoutNamedStatements } from '@todo/platform/db';
import { followerReadiness } from '@todo/platform/events';
import type { ServiceBuilder } from '@todo/platform/service';
import pTimeout from 'p-timeout';
import { createApp } from './app.ts';
import type { TodoConfig } from './config.ts';
import { todoService } from './definition.ts';
import type { TodoDeps } from './domain/deps.ts';
import { forgetDeletedUsers } from './events/forget-deleted-users.ts';
import { perUserLimits } from './limits/per-user-limits.ts';
import { IdempotencyKeyRepository } from './repositories/idempotency-key.repository.ts';

/** How long a starting replica waits to learn the recent revocations before it serves anyway (and says so). */
const FEED_STARTUP_WAIT_MS = 15_000;

export const buildTodoService: ServiceBuilder<TodoConfig, { revocations: RevocationList }> = async ({
  config,
  logger,
  metrics,
  orm,
  broker,
  outbox,
}) => {
  const { name } = todoService;
  const registry = metrics.registry;
  const namespace = config.EVENTS_NAMESPACE;
  const todos: TodoDeps = { outbox, idempotencyWaitMs: config.IDEMPOTENCY_WAIT_MS };

  const revocations = new RevocationList();
  const feed = followRevocations({
    broker,
    namespace,
    service: name,
    revocations,
    logger,
    registry,
    replaySeconds: config.REVOCATION_REPLAY_SECONDS,
    staleAfterSeconds: config.REVOCATION_STALE_AFTER_SECONDS,
  });
  // Serve no request before the recent revocations are known, unless NATS is away: then serve, and say so.
  const caughtUp = await pTimeout(
    feed.caughtUp.then(() => true),
    { milliseconds: FEED_STARTUP_WAIT_MS, message: false },
  );
  if (!caughtUp) {
    logger.error(
      { waitedMs: FEED_STARTUP_WAIT_MS },
      'starting without the recent revocations: the revocation feed could not read the auth events yet',
    );
  }
  const forgetter = forgetDeletedUsers({ broker, orm, deps: todos, namespace, service: name, logger, registry });
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
  const keys = remoteKeys(config.AUTH_JWKS_URL, {
    cacheMaxAgeMs: config.JWKS_CACHE_MAX_AGE_SECONDS * 1000,
    cooldownMs: config.JWKS_COOLDOWN_SECONDS * 1000,
    staleIfErrorMs: config.JWKS_STALE_IF_ERROR_SECONDS * 1000,
    logger,
    registry,
  });

  return {
    app: createApp({
      config,
      logger,
      metrics,
      orm,
      keys,
      revocations,
      revocationsCurrent,
      todos,
      limits: perUserLimits(withoutNamedStatements(await orm.em.getConnection().getNativeClient()), {
        readsPerMinute: config.RATE_LIMIT_READS_PER_MINUTE,
        writesPerMinute: config.RATE_LIMIT_WRITES_PER_MINUTE,
      }),
    }),
    details: { revocations: followerReadiness(feed), jwks: keys.readiness },
    handles: { revocations },
    async stop() {
      clearInterval(pruneRevocations);
      clearInterval(expireKeys);
      await Promise.all([feed.stop(), forgetter.stop()]);
    },
  };
};
