/**
 * `npm run migrate`: applies the auth schema's pending migrations and creates the auth service's streams and
 * durable consumers, then exits. Never run by a request; run with NATS credentials that may manage JetStream.
 */
import { migrationConfigSchema } from '@todo/platform/config';
import { migrateDatabase } from '@todo/platform/db';
import { connectBroker, setUpEvents } from '@todo/platform/events';
import { runCommand } from '@todo/platform/http';
import { eventTopology } from './events/topology.ts';
import { databaseOptions, SERVICE_NAME } from './service.ts';

await runCommand(`${SERVICE_NAME}-migrate`, migrationConfigSchema, async (config, logger) => {
  const report = await migrateDatabase(databaseOptions(config, logger));
  logger.info(report, report.applied.length ? 'migrations applied' : 'schema up to date');
  const nc = await connectBroker({ settings: config, name: `${SERVICE_NAME}-migrate`, logger });
  try {
    const events = await setUpEvents(nc, eventTopology(config.EVENTS_NAMESPACE), {
      replicas: config.NATS_STREAM_REPLICAS,
    });
    logger.info(events, 'streams and consumers ready');
  } finally {
    await nc.close();
  }
});
