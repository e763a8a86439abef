/**
 * Starting a service on the shared foundation: metrics, the database pool (with its gauges), the NATS
 * connection (in the background: a service starts and serves while NATS is away), the outbox and its relay,
 * then the service's own parts, then the API and ops servers. `stop()` undoes it in the reverse order.
 */
import {
  connectDatabase,
  type DatabaseOptions,
  databaseOptionsFrom,
  databaseReady,
  limitPoolWaiting,
  registerPoolMetrics,
} from '../db/connect.ts';
import { checkStatementTimeout } from '../db/statement-timeout.ts';
import { openBroker } from '../events/connection.ts';
import { Outbox, OutboxEventSchema, OutboxRelay } from '../events/outbox.ts';
import { eventReadiness } from '../events/readiness.ts';
import { createMetrics } from '../http/metrics.ts';
import { serve } from '../http/serve.ts';
import type { RunningServer } from '../http/server.ts';
import type { Logger } from '../logger.ts';
import type { ServiceBuilder, ServiceConfig, ServiceDefinition } from './definition.ts';

export type RunningService<X> = X & {
  api: RunningServer;
  ops: RunningServer;
  stop(): Promise<void>;
};

/** The pool settings of a service's schema; also what the setup step and the tests open the database with. */
export const databaseOptions = (
  definition: Pick<ServiceDefinition, 'name' | 'database'>,
  config: Parameters<typeof databaseOptionsFrom>[0],
  logger: Logger,
): DatabaseOptions => databaseOptionsFrom(config, { ...definition.database, applicationName: definition.name }, logger);

export async function startService<C extends ServiceConfig, X>(
  definition: ServiceDefinition<C>,
  build: ServiceBuilder<C, X>,
  config: Readonly<C>,
  logger: Logger,
): Promise<RunningService<X>> {
  const { name } = definition;
  const metrics = createMetrics(name);
  const registry = metrics.registry;
  const orm = await connectDatabase(databaseOptions(definition, config, logger));
  await checkStatementTimeout(orm, config.DATABASE_STATEMENT_TIMEOUT_MS, logger);
  await registerPoolMetrics(orm, registry);
  await limitPoolWaiting(orm, { maxWaiting: config.DATABASE_POOL_MAX_WAITING, registry });
  const broker = openBroker({ settings: config, name, logger, registry });
  // A service that lists the outbox entity publishes; one that does not gets an outbox that refuses events.
  const publishes = definition.database.entities.includes(OutboxEventSchema);
  const outbox = new Outbox(`todo-platform/${name}`, publishes);
  const relay = publishes
    ? new OutboxRelay({ orm, outbox, broker, namespace: config.EVENTS_NAMESPACE, logger, registry })
    : undefined;
  relay?.start();

  const closeFoundation = async () => {
    await relay?.stop();
    await broker.close();
    await orm.close();
  };
  let parts: Awaited<ReturnType<typeof build>>;
  try {
    parts = await build({ config, logger, metrics, orm, broker, outbox });
  } catch (err) {
    await closeFoundation();
    throw err;
  }
  const served = await serve({
    name,
    app: parts.app,
    config,
    logger,
    metrics,
    checks: { database: databaseReady(orm) },
    details: { ...eventReadiness({ broker, relay }), ...parts.details },
    docs: { specPath: definition.docs.api, eventsSpecPath: definition.docs.events, title: definition.docs.title },
  });

  return {
    ...parts.handles,
    api: served.api,
    ops: served.ops,
    async stop() {
      await served.drain();
      await parts.stop?.();
      await closeFoundation();
    },
  };
}
